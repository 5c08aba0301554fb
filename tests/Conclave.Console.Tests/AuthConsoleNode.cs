using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Conclave.ConfigCenter.Secrets;
using Conclave.Server.Security.Auth;

namespace Conclave.Console.Tests;

/// <summary>
/// A member of its own with auth enabled and a master key (secrets), shared by the tests of one class: users of the
/// auth store made with the real etcdctl (password = name + "pw"), and an API client signed in as any of them.
/// </summary>
public sealed class AuthConsoleNode : IAsyncLifetime
{
    /// <summary>olivia creates (owns) the apps; the others get grants per test; vic never gets any.</summary>
    public static readonly string[] Users = ["olivia", "ed", "vic", "rel", "rita", "sam"];

    public TestNode Node { get; private set; } = null!;

    public string BaseUrl => Node.HttpUrl;

    public async Task InitializeAsync()
    {
        Node = await TestNode.StartInProcessAsync(null, o => o with
        {
            Auth = new AuthSettings { BcryptCost = 4 },
            ConfigMasterKeys = new LocalMasterKeys([RandomNumberGenerator.GetBytes(32)]),
        });
        try
        {
            foreach (var user in (string[])["root", .. Users])
            {
                (await Etcdctl.RunAsync(Node.Endpoint, "user", "add", $"{user}:{user}pw")).EnsureSuccess();
            }

            (await Etcdctl.RunAsync(Node.Endpoint, "auth", "enable")).EnsureSuccess();
        }
        catch
        {
            await Node.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }

    /// <summary>An API client signed in as <paramref name="user"/> (a bearer token from <c>POST /api/v1/session</c>).</summary>
    public async Task<HttpClient> AsAsync(string user)
    {
        var http = new HttpClient { BaseAddress = new Uri(Node.HttpUrl) };
        using var response = await http.PostAsJsonAsync("/api/v1/session", new { name = user, password = user + "pw" });
        response.EnsureSuccessStatusCode();
        var token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}

using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>Drives the configuration center through its /api/v1 HTTP API, as an operator (or the console) would.</summary>
public sealed class CenterAdmin : IDisposable
{
    private readonly HttpClient http;

    public CenterAdmin(string httpUrl, string app, string env = "PRO")
    {
        http = new HttpClient { BaseAddress = new Uri(httpUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "tests");
        App = app;
        Env = env;
    }

    public string App { get; }

    public string Env { get; }

    public static string NewAppId() => "app-" + Guid.NewGuid().ToString("N")[..10];

    public async Task CreateAppAsync()
    {
        await SendAsync(HttpMethod.Post, "/api/v1/apps", new { id = App, owner = "tests" });
        await SendAsync(HttpMethod.Post, $"/api/v1/apps/{App}/envs", new { name = Env });
    }

    public Task CreateNamespaceAsync(string ns, string format = "properties") =>
        SendAsync(HttpMethod.Post, $"/api/v1/apps/{App}/envs/{Env}/namespaces", new { name = ns, format });

    public Task SetItemAsync(string ns, string key, string value) =>
        SendAsync(HttpMethod.Put, $"{Ns(ns)}/items/{Uri.EscapeDataString(key)}", new { value });

    public Task SetContentAsync(string ns, string content) =>
        SendAsync(HttpMethod.Put, $"{Ns(ns)}/content", new { content });

    /// <summary>Publishes the working copy; returns the release id.</summary>
    public async Task<long> PublishAsync(string ns, string? title = null) =>
        (await SendAsync(HttpMethod.Post, $"{Ns(ns)}/releases", new { title = title ?? "t" })).GetProperty("id").GetInt64();

    public async Task<long> SetAndPublishAsync(string ns, string key, string value)
    {
        await SetItemAsync(ns, key, value);
        return await PublishAsync(ns);
    }

    public async Task<long> RollbackAsync(string ns, long toReleaseId) =>
        (await SendAsync(HttpMethod.Post, $"{Ns(ns)}/rollback", new { toReleaseId })).GetProperty("id").GetInt64();

    public async Task<long> GrayPublishAsync(string ns, string[] instanceIds) =>
        (await SendAsync(HttpMethod.Post, $"{Ns(ns)}/gray", new { rule = new { instanceIds }, title = "gray" })).GetProperty("id").GetInt64();

    /// <summary>Starts a rollout plan of the working copy (e.g. "100%@600s"); returns the gray release id.</summary>
    public async Task<long> StartRolloutAsync(string ns, string plan, double maxUnhealthyPercent = 5) =>
        (await SendAsync(HttpMethod.Post, $"{Ns(ns)}/gray", new { rule = new { }, title = "plan", plan = new { text = plan, maxUnhealthyPercent } })).GetProperty("id").GetInt64();

    public Task<JsonElement> NamespaceAsync(string ns) => SendAsync(HttpMethod.Get, Ns(ns), null);

    /// <summary>The evaluation insight of a flags namespace (GET .../flags/usage).</summary>
    public Task<JsonElement> FlagUsageAsync(string ns) => SendAsync(HttpMethod.Get, $"{Ns(ns)}/flags/usage", null);

    public Task<JsonElement> ConvergenceAsync(string ns, long releaseId) =>
        SendAsync(HttpMethod.Get, $"{Ns(ns)}/convergence?releaseId={releaseId}", null);

    /// <summary>Creates an app credential of this app and environment; returns its id and access key.</summary>
    public async Task<(string Id, string AccessKey)> CreateCredentialAsync(string? name = null)
    {
        var issued = await SendAsync(HttpMethod.Post, $"/api/v1/apps/{App}/envs/{Env}/credentials", new { name });
        return (issued.GetProperty("credential").GetProperty("id").GetString()!, issued.GetProperty("accessKey").GetString()!);
    }

    public Task RevokeCredentialAsync(string id) => SendAsync(HttpMethod.Delete, $"/api/v1/apps/{App}/envs/{Env}/credentials/{id}", null);

    public void Dispose() => http.Dispose();

    private string Ns(string ns) => $"/api/v1/apps/{App}/envs/{Env}/namespaces/{ns}";

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path} -> {(int)response.StatusCode}: {text}");
        }

        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }
}

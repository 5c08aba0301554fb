using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Conclave.Server.Tests.Http;

/// <summary><c>--host-whitelist</c>: names the operator adds (a load balancer's, a proxy's), and <c>*</c> for any.</summary>
public sealed class HostWhitelistTests
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, HttpMethod method, string path, string? host = null, string? origin = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post)
        {
            request.Content = JsonContent.Create(new { key = B64("whitelist/" + Guid.NewGuid().ToString("N")), value = B64("v") });
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Listed_names_are_answered_and_trusted_as_origins_and_others_are_still_refused()
    {
        await using var node = await TestNode.StartInProcessAsync(configure: o => o with { HostWhitelist = ["Config.Example.", "proxy.example:8443"] });
        using var http = node.CreateHttpClient();

        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Get, "/health", host: "config.example"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Get, "/health", host: "proxy.example:8443"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Get, "/health", host: "127.0.0.1"));
        Assert.Equal(HttpStatusCode.MisdirectedRequest, await SendAsync(http, HttpMethod.Get, "/health", host: "attacker.example"));

        // A TLS-terminating proxy under a listed name: its pages' origin is not the request's own, but it is trusted.
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Post, "/v3/kv/put", origin: "https://proxy.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(http, HttpMethod.Post, "/v3/kv/put", origin: "https://attacker.example"));
    }

    [Fact]
    public async Task A_star_answers_any_host_but_still_refuses_foreign_origins()
    {
        await using var node = await TestNode.StartInProcessAsync(configure: o => o with { HostWhitelist = ["*"] });
        using var http = node.CreateHttpClient();

        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Get, "/health", host: "anything.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(http, HttpMethod.Post, "/v3/kv/put", origin: "http://anything.example"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, HttpMethod.Post, "/v3/kv/put"));
    }
}

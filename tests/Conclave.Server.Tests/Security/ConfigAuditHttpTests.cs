using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Server.Security.Auth;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// The audit over HTTP with auth enabled (issue 21, item 5): entries name the signed-in user, the request id the caller
/// sent, and what changed; the export is JSON lines, oldest first, for root only; time filters bound it.
/// </summary>
public sealed class ConfigAuditHttpTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Export_is_json_lines_for_root_only_and_entries_carry_actor_request_and_change()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add olivia:oliviapw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        using var olivia = await SignedInAsync(node, "olivia", "oliviapw");
        using var root = await SignedInAsync(node, "root", "rootpw");
        foreach (var (path, body) in new (string, object)[]
        {
            ("/api/v1/apps", new { id = "shop" }),
            ("/api/v1/apps/shop/envs", new { name = "PRO" }),
            ("/api/v1/apps/shop/envs/PRO/namespaces", new { name = "application", format = "properties" }),
        })
        {
            (await olivia.PostAsJsonAsync(path, body)).EnsureSuccessStatusCode();
        }

        using (var set = new HttpRequestMessage(HttpMethod.Put, "/api/v1/apps/shop/envs/PRO/namespaces/application/items/port") { Content = JsonContent.Create(new { value = "8080" }) })
        {
            set.Headers.Add("X-Request-Id", "change-1234");
            set.Headers.Add("X-Conclave-Author", "mallory");
            (await olivia.SendAsync(set)).EnsureSuccessStatusCode();
        }

        // Not root: refused with a 403 problem.
        using (var refused = await olivia.GetAsync(new Uri("/api/v1/audit/export", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using var export = await root.GetAsync(new Uri("/api/v1/audit/export?app=shop", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        Assert.Equal("application/x-ndjson", export.Content.Headers.ContentType?.MediaType);
        var lines = (await export.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["app.create", "env.create", "namespace.create", "item.set"], lines.Select(l => l.GetProperty("action").GetString()));
        var item = lines[^1];
        Assert.Equal("olivia", item.GetProperty("author").GetString());
        Assert.Equal("change-1234", item.GetProperty("requestId").GetString());
        Assert.Equal("port | port: (none) -> 8080", item.GetProperty("detail").GetString());
        Assert.StartsWith("127.0.0.1:", item.GetProperty("from").GetString(), StringComparison.Ordinal);

        var future = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"));
        using var none = await root.GetAsync(new Uri($"/api/v1/audit/export?app=shop&since={future}", UriKind.Relative));
        Assert.Equal("", await none.Content.ReadAsStringAsync());
        using var byUser = await root.GetAsync(new Uri("/api/v1/audit?author=olivia&action=item.", UriKind.Relative));
        Assert.Single(JsonDocument.Parse(await byUser.Content.ReadAsStringAsync()).RootElement.EnumerateArray());
    }

    private static async Task<HttpClient> SignedInAsync(TestNode node, string name, string password)
    {
        var http = node.CreateHttpClient();
        using var signIn = await http.PostAsJsonAsync("/api/v1/session", new { name, password });
        signIn.EnsureSuccessStatusCode();
        var token = JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}

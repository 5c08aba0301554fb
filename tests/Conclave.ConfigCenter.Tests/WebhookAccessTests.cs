using static Conclave.ConfigCenter.Tests.SignedInApi;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// With auth enabled, webhooks are managed by the app's owner, admins or root only (ADR 0016, as credentials in ADR 0015):
/// another signed-in user gets 403 problem details on every webhook route, and the refusal is audited as denied.
/// </summary>
public sealed class WebhookAccessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Only_the_apps_managers_may_create_list_ping_or_delete_webhooks()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new Server.Security.Auth.AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add bob:bobpw", "user add carol:carolpw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        string root, bob, carol;
        using (var signIn = node.CreateHttpClient())
        {
            root = await SignInAsync(signIn, "root", "rootpw");
            bob = await SignInAsync(signIn, "bob", "bobpw");
            carol = await SignInAsync(signIn, "carol", "carolpw");
        }

        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(node.HttpUrl) };
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps", new { id = "orders", owner = "carol" });
        const string hooks = "/api/v1/apps/orders/webhooks";

        using (var refused = await SendRawAsync(http, bob, HttpMethod.Post, hooks, new { url = "http://127.0.0.1:1/hook" }))
        {
            var text = await refused.Content.ReadAsStringAsync();
            output.WriteLine(text);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal("PermissionDenied", problem.GetProperty("code").GetString());
            Assert.Contains("webhooks", problem.GetProperty("detail").GetString());
        }

        // The owner may; so may root.
        var created = await SendAsync(http, carol, HttpMethod.Post, hooks, new { url = "http://127.0.0.1:1/hook" });
        var id = created.GetProperty("webhook").GetProperty("id").GetString()!;
        await SendAsync(http, root, HttpMethod.Get, hooks, null);

        foreach (var (method, path) in new[] { (HttpMethod.Get, hooks), (HttpMethod.Get, $"{hooks}/{id}"), (HttpMethod.Get, $"{hooks}/{id}/deliveries"), (HttpMethod.Post, $"{hooks}/{id}/ping"), (HttpMethod.Delete, $"{hooks}/{id}") })
        {
            using var response = await SendRawAsync(http, bob, method, path, null);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} as bob answered {(int)response.StatusCode}");
        }

        using (var anonymous = await http.GetAsync(hooks))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        var audit = await SendAsync(http, carol, HttpMethod.Get, "/api/v1/apps/orders/audit", null);
        Assert.Contains(audit.EnumerateArray(), a => a.GetProperty("action").GetString() == "denied" && a.GetProperty("author").GetString() == "bob");
        Assert.Contains(audit.EnumerateArray(), a => a.GetProperty("action").GetString() == "webhook.create" && a.GetProperty("author").GetString() == "carol");
        await SendAsync(http, carol, HttpMethod.Delete, $"{hooks}/{id}", null);
    }
}

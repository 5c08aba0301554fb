using System.Net.Http.Json;
using System.Text.Json;
using static Conclave.ConfigCenter.Tests.SignedInApi;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Issue 21's permission matrix over the wire: every config change through <c>/api/v1</c> on a member with auth enabled,
/// by every kind of caller — the app's owner, an admin, an editor, a releaser, a signed-in user with no grant, nobody
/// (no sign-in), an app credential of this app and one of another app — is allowed to exactly the callers ADR 0015 says,
/// and refused otherwise with a problem detail: 401 for no sign-in (a credential signs in only for the client endpoints),
/// 403 <c>PermissionDenied</c> naming the app for a signed-in caller without the permission. A refusal changes nothing
/// (the app's configuration reads the same before and after; only the audit's "denied" entry is written).
/// </summary>
public sealed class HttpPermissionMatrixTests(ITestOutputHelper output)
{
    private const string Env = "DEV";

    private static readonly string[] Callers = ["owner", "admin", "editor", "releaser", "viewer", "none", "credential", "other-credential"];

    /// <summary>Which signed-in callers may make each change (root may make all; nobody else may make any).</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["set-item"] = ["owner", "admin", "editor"],
        ["delete-item"] = ["owner", "admin", "editor"],
        ["set-content"] = ["owner", "admin", "editor"],
        ["set-schema"] = ["owner", "admin", "editor"],
        ["publish"] = ["owner", "admin", "releaser"],
        ["rollback"] = ["owner", "admin", "releaser"],
        ["gray"] = ["owner", "admin", "releaser"],
        ["discard"] = ["owner", "admin", "editor"],
        ["create-env"] = ["owner", "admin"],
        ["create-ns"] = ["owner", "admin"],
        ["delete-ns"] = ["owner", "admin"],
        ["grant"] = ["owner", "admin"],
        ["policy"] = ["owner", "admin"],
        ["create-credential"] = ["owner", "admin"],
        ["set-owner"] = ["owner"],
        ["delete-app"] = ["owner"],
    };

    [Fact]
    public async Task Every_change_by_every_kind_of_caller_is_allowed_or_refused_as_the_model_says_and_a_refusal_changes_nothing()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new Server.Security.Auth.AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add olivia:pw", "user add adam:pw", "user add ed:pw", "user add rel:pw", "user add vic:pw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        var tokens = new Dictionary<string, string>();
        using (var signIn = node.CreateHttpClient())
        {
            tokens["root"] = await SignInAsync(signIn, "root", "rootpw");
            foreach (var (caller, user) in new[] { ("owner", "olivia"), ("admin", "adam"), ("editor", "ed"), ("releaser", "rel"), ("viewer", "vic") })
            {
                tokens[caller] = await SignInAsync(signIn, user, "pw");
            }
        }

        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(node.HttpUrl) };
        var root = tokens["root"];
        var other = "matrix-other";
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps", new { id = other });
        await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{other}/envs", new { name = Env });
        var otherKey = (await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{other}/envs/{Env}/credentials", new { name = "theirs" })).GetProperty("accessKey").GetString()!;

        var failures = new List<string>();
        var n = 0;
        foreach (var (action, allowed) in Allowed)
        {
            foreach (var caller in Callers)
            {
                var app = $"matrix-{n++:D3}";
                var key = await NewAppAsync(http, root, app);
                var before = await SnapshotAsync(http, root, app);
                using var response = await RunAsync(http, action, app, caller switch
                {
                    "none" => (null, null),
                    "credential" => (null, key),
                    "other-credential" => (null, otherKey),
                    _ => (tokens[caller], null),
                });
                var text = await response.Content.ReadAsStringAsync();
                var expected = allowed.Contains(caller) ? "allowed" : caller is "none" or "credential" or "other-credential" ? "401" : "403";
                var outcome = response.IsSuccessStatusCode ? "allowed" : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (action == "delete-app" && outcome == "412" && text.Contains("environment(s): delete them first", StringComparison.Ordinal))
                {
                    // Past the access check, stopped by the app's own rule (environments first): checked on an empty app below.
                    outcome = "allowed";
                }

                if (outcome != expected)
                {
                    failures.Add($"{action} by {caller}: expected {expected}, got {outcome} {text}");
                    continue;
                }

                if (expected == "allowed")
                {
                    continue;
                }

                // A refusal is a problem detail that says what and why, and nothing of the app changed.
                var problem = JsonDocument.Parse(text).RootElement;
                Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{action} by {caller}: {response.Content.Headers.ContentType} {text}");
                Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"{action} by {caller}: {text}");
                if (expected == "403")
                {
                    Assert.Equal("PermissionDenied", problem.GetProperty("code").GetString());
                    Assert.Contains(app, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
                }

                Assert.Equal(before, await SnapshotAsync(http, root, app));
            }
        }

        // An app without environments is deleted by its owner, and not by an admin.
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps", new { id = "matrix-empty", owner = "olivia" });
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps/matrix-empty/access/admins", new { subject = "user:adam" });
        using (var byAdmin = await SendRawAsync(http, tokens["admin"], HttpMethod.Delete, "/api/v1/apps/matrix-empty", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, byAdmin.StatusCode);
        }

        await SendAsync(http, tokens["owner"], HttpMethod.Delete, "/api/v1/apps/matrix-empty", null);
        using (var gone = await SendRawAsync(http, root, HttpMethod.Get, "/api/v1/apps/matrix-empty", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        }

        output.WriteLine($"{Allowed.Count} changes x {Callers.Length} callers = {Allowed.Count * Callers.Length} calls");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>
    /// An app owned by olivia: adam an admin, ed an editor of DEV/application, rel a releaser in DEV; DEV/application
    /// released twice (so there is a release to roll back to) with an unpublished edit, and DEV/other. Returns the app's
    /// credential.
    /// </summary>
    private static async Task<string> NewAppAsync(HttpClient http, string root, string app)
    {
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps", new { id = app, owner = "olivia" });
        await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{app}/envs", new { name = Env });
        var ns = $"/api/v1/apps/{app}/envs/{Env}/namespaces";
        await SendAsync(http, root, HttpMethod.Post, ns, new { name = "application", format = "properties" });
        await SendAsync(http, root, HttpMethod.Post, ns, new { name = "other", format = "properties" });
        await SendAsync(http, root, HttpMethod.Put, $"{ns}/application/items/port", new { value = "8080" });
        await SendAsync(http, root, HttpMethod.Post, $"{ns}/application/releases", new { title = "r1" });
        await SendAsync(http, root, HttpMethod.Put, $"{ns}/application/items/port", new { value = "8081" });
        await SendAsync(http, root, HttpMethod.Post, $"{ns}/application/releases", new { title = "r2" });
        await SendAsync(http, root, HttpMethod.Put, $"{ns}/application/items/host", new { value = "db" });
        await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{app}/access/admins", new { subject = "user:adam" });
        await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{app}/access/grants", new { subject = "user:ed", permission = "Edit", env = Env, @namespace = "application" });
        await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{app}/access/grants", new { subject = "user:rel", permission = "Release", env = Env });
        var issued = await SendAsync(http, root, HttpMethod.Post, $"/api/v1/apps/{app}/envs/{Env}/credentials", new { name = "pods" });
        return issued.GetProperty("accessKey").GetString()!;
    }

    /// <summary>What a change could touch, read by root: the app, its access, environments, namespaces, working copies, releases and gray state.</summary>
    private static async Task<string> SnapshotAsync(HttpClient http, string root, string app)
    {
        var parts = new List<string>();
        foreach (var path in new[]
        {
            $"/api/v1/apps/{app}", $"/api/v1/apps/{app}/access", $"/api/v1/apps/{app}/envs", $"/api/v1/apps/{app}/envs/{Env}/namespaces",
            $"/api/v1/apps/{app}/envs/{Env}/namespaces/application", $"/api/v1/apps/{app}/envs/{Env}/namespaces/other",
            $"/api/v1/apps/{app}/envs/{Env}/namespaces/application/releases", $"/api/v1/apps/{app}/envs/{Env}/credentials",
        })
        {
            using var response = await SendRawAsync(http, root, HttpMethod.Get, path, null);
            parts.Add($"{path} {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return string.Join('\n', parts);
    }

    private static async Task<HttpResponseMessage> RunAsync(HttpClient http, string action, string app, (string? Token, string? Key) caller)
    {
        var ns = $"/api/v1/apps/{app}/envs/{Env}/namespaces/application";
        var (method, path, body) = action switch
        {
            "set-item" => (HttpMethod.Put, $"{ns}/items/port", (object?)new { value = "9090" }),
            "delete-item" => (HttpMethod.Delete, $"{ns}/items/port", null),
            "set-content" => (HttpMethod.Put, $"{ns}/content", new { content = "port=7070\n" }),
            "set-schema" => (HttpMethod.Put, $"{ns}/schema", new { schema = """{"type":"object"}""" }),
            "publish" => (HttpMethod.Post, $"{ns}/releases", new { title = "r3" }),
            "rollback" => (HttpMethod.Post, $"{ns}/rollback", new { toReleaseId = 1, edits = "keep" }),
            "gray" => (HttpMethod.Post, $"{ns}/gray", new { rule = new { percentage = 10 }, title = "g" }),
            "discard" => (HttpMethod.Post, $"{ns}/discard", new { }),
            "create-env" => (HttpMethod.Post, $"/api/v1/apps/{app}/envs", new { name = "UAT" }),
            "create-ns" => (HttpMethod.Post, $"/api/v1/apps/{app}/envs/{Env}/namespaces", new { name = "added", format = "json" }),
            "delete-ns" => (HttpMethod.Delete, $"/api/v1/apps/{app}/envs/{Env}/namespaces/other", null),
            "grant" => (HttpMethod.Post, $"/api/v1/apps/{app}/access/grants", new { subject = "user:vic", permission = "Edit" }),
            "policy" => (HttpMethod.Put, $"{ns}/policy", new { separateEditAndRelease = true }),
            "create-credential" => (HttpMethod.Post, $"/api/v1/apps/{app}/envs/{Env}/credentials", new { name = "more" }),
            "set-owner" => (HttpMethod.Put, $"/api/v1/apps/{app}/access/owner", new { owner = "vic" }),
            "delete-app" => (HttpMethod.Delete, $"/api/v1/apps/{app}", null),
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
        };
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (caller.Token is { } token)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        if (caller.Key is { } key)
        {
            request.Headers.Add(AccessKey.Header, key);
        }

        return await http.SendAsync(request);
    }
}

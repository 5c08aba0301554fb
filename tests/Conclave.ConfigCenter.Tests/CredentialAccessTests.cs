using static Conclave.ConfigCenter.Tests.SignedInApi;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Config.V1;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The client endpoints with app credentials (ADR 0015 decision 5), on a real member: Fetch, Subscribe and Report over
/// gRPC and HTTP effective/reports, called with no key, a garbage key, another app's key, a revoked key and this app's
/// key (also through an association to another app's public namespace); open as before while auth is disabled and the
/// app has no credential; a revoked key ends a live subscription.
/// </summary>
public sealed class CredentialAccessTests(NodeFixture fixture, ITestOutputHelper output) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private CredentialService Credentials() => new(new LocalKeyValuePort(fixture.Node.Server.Node, new LeaseKeeper(fixture.Node.Server.Node, NullLogger<LeaseKeeper>.Instance)));

    /// <summary>An app with a released "application", and the ids of what the table needs.</summary>
    private async Task<string> ReleasedAppAsync(params string[] namespaces)
    {
        var app = await fixture.NewAppAsync();
        foreach (var ns in namespaces.Length == 0 ? ["application"] : namespaces)
        {
            await fixture.Center.CreateNamespaceAsync(app, "DEV", ns, NamespaceFormat.Properties, null, Alice);
            await fixture.Center.SetItemAsync(app, "DEV", ns, new ConfigItem("k", "v"), 0, Alice);
            await fixture.Center.PublishAsync(app, "DEV", ns, "r1", null, 0, Alice);
        }

        return app;
    }

    [Fact]
    public async Task Every_client_endpoint_follows_the_table()
    {
        var app = await ReleasedAppAsync();
        var other = await ReleasedAppAsync();
        var credentials = Credentials();

        // Auth disabled and no credential: open as today.
        await ExpectAllAsync(app, "application", new Metadata(), null, "no key, app without credentials");

        var mine = await credentials.CreateAsync(app, "DEV", "pods", Alice);
        var old = await credentials.CreateAsync(app, "DEV", "old pods", Alice);
        await credentials.RevokeAsync(app, "DEV", old.Credential.Id, Alice);
        var theirs = await credentials.CreateAsync(other, "DEV", "their pods", Alice);
        var (garbageId, garbageSecret) = AccessKey.Generate();

        // Now the app has an active credential in DEV: required, though auth is disabled.
        await ExpectAllAsync(app, "application", new Metadata(), StatusCode.Unauthenticated, "no key");
        await ExpectAllAsync(app, "application", Key("garbage"), StatusCode.Unauthenticated, "a malformed key");
        await ExpectAllAsync(app, "application", Key(AccessKey.Format(garbageId, garbageSecret)), StatusCode.Unauthenticated, "an unknown key");
        await ExpectAllAsync(app, "application", Key(theirs.AccessKey), StatusCode.PermissionDenied, "another app's key");
        await ExpectAllAsync(app, "application", Key(old.AccessKey), StatusCode.Unauthenticated, "a revoked key");
        await ExpectAllAsync(app, "application", Key(mine.AccessKey), null, "this app's key");
        await ExpectAllAsync(app, "application", new Metadata { { "authorization", $"ConclaveKey {mine.AccessKey}" } }, null, "this app's key as Authorization: ConclaveKey");

        // The other app has a credential too, so its own clients need it; this app's key is refused there, naming the app.
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await Fetch(other, "application", Key(mine.AccessKey)));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains(app, denied.Status.Detail);

        // Another environment: this key reads nothing there.
        await fixture.Center.CreateEnvironmentAsync(app, "PRO", Alice);
        await fixture.Center.CreateNamespaceAsync(app, "PRO", "application", NamespaceFormat.Properties, null, Alice);
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(async () => await Fetch(app, "application", Key(mine.AccessKey), env: "PRO"))).StatusCode);
    }

    [Fact]
    public async Task A_key_reads_the_public_namespaces_its_app_associates_and_no_others()
    {
        var shared = await ReleasedAppAsync();
        await fixture.Center.CreateNamespaceAsync(shared, "DEV", "common", NamespaceFormat.Properties, null, isPublic: true, Alice);
        await fixture.Center.SetItemAsync(shared, "DEV", "common", new ConfigItem("db.host", "db1"), 0, Alice);
        await fixture.Center.PublishAsync(shared, "DEV", "common", "r1", null, 0, Alice);
        await fixture.Center.CreateNamespaceAsync(shared, "DEV", "also-public", NamespaceFormat.Properties, null, isPublic: true, Alice);
        await fixture.Center.SetItemAsync(shared, "DEV", "also-public", new ConfigItem("x", "1"), 0, Alice);
        await fixture.Center.PublishAsync(shared, "DEV", "also-public", "r1", null, 0, Alice);

        var app = await ReleasedAppAsync();
        await new PublicNamespaceService(new LocalKeyValuePort(fixture.Node.Server.Node, new LeaseKeeper(fixture.Node.Server.Node, NullLogger<LeaseKeeper>.Instance)))
            .AssociateNamespaceAsync(app, "DEV", "common", shared, Alice);
        var key = Key((await Credentials().CreateAsync(app, "DEV", null, Alice)).AccessKey);

        // Through the app's own association namespace (Apollo's way), and the base directly.
        await ExpectAllAsync(app, "common", key, null, "the association namespace");
        Assert.Equal("db1", (await Fetch(shared, "common", key)).Releases.Single().Configurations["db.host"]);
        Assert.Equal(HttpStatusCode.OK, (await EffectiveAsync(shared, "common", key)).StatusCode);

        // Not a public namespace the app has not associated, not the base app's private one.
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(async () => await Fetch(shared, "also-public", key))).StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(async () => await Fetch(shared, "application", key))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await EffectiveAsync(shared, "application", key)).StatusCode);
    }

    [Fact]
    public async Task Revoking_a_key_ends_its_live_subscriptions_within_seconds()
    {
        var app = await ReleasedAppAsync();
        var credentials = Credentials();
        var issued = await credentials.CreateAsync(app, "DEV", null, Alice);
        using var channel = fixture.Node.CreateChannel();
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var call = new ConfigService.ConfigServiceClient(channel).Subscribe(
            new SubscribeRequest { App = app, Env = "DEV", Namespaces = { "application" }, Instance = new InstanceIdentity { InstanceId = "pod-1" } },
            Key(issued.AccessKey), cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));

        var clock = Stopwatch.StartNew();
        await credentials.RevokeAsync(app, "DEV", issued.Credential.Id, Alice);
        var ended = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext(cts.Token));
        clock.Stop();
        output.WriteLine($"the subscription ended {clock.ElapsedMilliseconds} ms after the revocation returned");
        Assert.Equal(StatusCode.Unauthenticated, ended.StatusCode);
        Assert.Contains("revoked", ended.Status.Detail);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task With_auth_enabled_a_key_or_a_sign_in_is_always_required_and_credentials_need_the_owner()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { Auth = new Server.Security.Auth.AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add bob:bobpw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        // Tokens from a client of their own: the session cookie it keeps must not ride along on the calls below.
        string root, bob;
        using (var signIn = node.CreateHttpClient())
        {
            root = await SignInAsync(signIn, "root", "rootpw");
            bob = await SignInAsync(signIn, "bob", "bobpw");
        }

        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri(node.HttpUrl) };
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps", new { id = "orders" });
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps/orders/envs", new { name = "DEV" });
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps/orders/envs/DEV/namespaces", new { name = "application", format = "properties" });
        await SendAsync(http, root, HttpMethod.Put, "/api/v1/apps/orders/envs/DEV/namespaces/application/items/k", new { value = "v" });
        await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps/orders/envs/DEV/namespaces/application/releases", new { title = "r1" });

        // No credential exists yet, but auth is enabled: a key or a sign-in is needed.
        using var channel = node.CreateChannel();
        var client = new ConfigService.ConfigServiceClient(channel);
        var fetch = new FetchRequest { App = "orders", Env = "DEV", Namespaces = { "application" } };
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await client.FetchAsync(fetch))).StatusCode);
        Assert.Single((await client.FetchAsync(fetch, new Metadata { { "token", root } })).Releases);

        // Managing credentials needs the app's owner (root created it) or root; bob is neither: 403 problem naming the app.
        using (var refused = await SendRawAsync(http, bob, HttpMethod.Post, "/api/v1/apps/orders/envs/DEV/credentials", new { name = "x" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("PermissionDenied", problem.GetProperty("code").GetString());
            Assert.Contains("orders", problem.GetProperty("detail").GetString());
        }

        var issued = await SendAsync(http, root, HttpMethod.Post, "/api/v1/apps/orders/envs/DEV/credentials", new { name = "pods" });
        var key = issued.GetProperty("accessKey").GetString()!;
        var listed = await SendAsync(http, root, HttpMethod.Get, "/api/v1/apps/orders/envs/DEV/credentials", null);
        Assert.DoesNotContain(key[(AccessKey.IdLength + 1)..], listed.GetRawText());

        Assert.Single((await client.FetchAsync(fetch, Key(key))).Releases);

        // HTTP: the key alone passes the sign-in (for effective and reports only); nothing at all is 401.
        using (var effective = new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps/orders/envs/DEV/namespaces/application/effective"))
        {
            effective.Headers.Add(AccessKey.Header, key);
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(effective)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/v1/apps/orders/envs/DEV/namespaces/application/effective")).StatusCode);
        using (var other = new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps/orders/envs/DEV/namespaces/application/releases"))
        {
            other.Headers.Add(AccessKey.Header, key);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(other)).StatusCode);
        }

        var id = issued.GetProperty("credential").GetProperty("id").GetString()!;
        using (var revokedByBob = await SendRawAsync(http, bob, HttpMethod.Delete, $"/api/v1/apps/orders/envs/DEV/credentials/{id}", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, revokedByBob.StatusCode);
        }

        await SendAsync(http, root, HttpMethod.Delete, $"/api/v1/apps/orders/envs/DEV/credentials/{id}", null);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await client.FetchAsync(fetch, Key(key)))).StatusCode);
    }

    private static Metadata Key(string key) => new() { { AccessKey.Header, key } };

    private async Task<FetchResponse> Fetch(string app, string ns, Metadata headers, string env = "DEV")
    {
        using var channel = fixture.Node.CreateChannel();
        return await new ConfigService.ConfigServiceClient(channel).FetchAsync(
            new FetchRequest { App = app, Env = env, Namespaces = { ns }, Instance = new InstanceIdentity { InstanceId = "pod-1" } }, headers);
    }

    private async Task<HttpResponseMessage> EffectiveAsync(string app, string ns, Metadata headers)
    {
        using var http = fixture.Node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/apps/{app}/envs/DEV/namespaces/{ns}/effective?instanceId=pod-1");
        foreach (var entry in headers)
        {
            request.Headers.TryAddWithoutValidation(entry.Key, entry.Value);
        }

        return await http.SendAsync(request);
    }

    /// <summary>Fetch, Subscribe, Report, HTTP effective and reports: all succeed (<paramref name="expected"/> null) or all fail with it.</summary>
    private async Task ExpectAllAsync(string app, string ns, Metadata headers, StatusCode? expected, string what)
    {
        using var channel = fixture.Node.CreateChannel();
        var client = new ConfigService.ConfigServiceClient(channel);
        var instance = new InstanceIdentity { InstanceId = "pod-1" };
        var outcomes = new Dictionary<string, StatusCode>
        {
            ["Fetch"] = await StatusOf(async () => await client.FetchAsync(new FetchRequest { App = app, Env = "DEV", Namespaces = { ns }, Instance = instance }, headers)),
            ["Subscribe"] = await StatusOf(async () =>
            {
                using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
                using var call = client.Subscribe(new SubscribeRequest { App = app, Env = "DEV", Namespaces = { ns }, Instance = instance }, headers, cancellationToken: cts.Token);
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
            }),
            ["Report"] = await StatusOf(async () => await client.ReportAsync(new ReportRequest { App = app, Env = "DEV", Namespace = ns, Instance = instance, ReleaseId = 1 }, headers)),
        };

        var effective = await EffectiveAsync(app, ns, headers);
        using var http = fixture.Node.CreateHttpClient();
        using var report = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/apps/{app}/envs/DEV/namespaces/{ns}/reports") { Content = JsonContent.Create(new { instanceId = "pod-2", releaseId = 1, status = "Applied" }) };
        foreach (var entry in headers)
        {
            report.Headers.TryAddWithoutValidation(entry.Key, entry.Value);
        }

        var reported = await http.SendAsync(report);
        output.WriteLine($"{what}: {string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"))}, effective {(int)effective.StatusCode}, reports {(int)reported.StatusCode}");
        foreach (var (call, status) in outcomes)
        {
            Assert.True(status == (expected ?? StatusCode.OK), $"{what}: {call} answered {status}, expected {expected?.ToString() ?? "OK"}");
        }

        var http403or401 = expected switch
        {
            null => HttpStatusCode.OK,
            StatusCode.PermissionDenied => HttpStatusCode.Forbidden,
            _ => HttpStatusCode.Unauthorized,
        };
        Assert.True(effective.StatusCode == http403or401, $"{what}: effective answered {(int)effective.StatusCode}: {await effective.Content.ReadAsStringAsync()}");
        Assert.True(reported.StatusCode == http403or401, $"{what}: reports answered {(int)reported.StatusCode}: {await reported.Content.ReadAsStringAsync()}");
        if (expected is not null)
        {
            var problem = await effective.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(expected == StatusCode.PermissionDenied ? "PermissionDenied" : "Unauthenticated", problem.GetProperty("code").GetString());
        }
    }

    private static async Task<StatusCode> StatusOf(Func<Task> call)
    {
        try
        {
            await call();
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }
}

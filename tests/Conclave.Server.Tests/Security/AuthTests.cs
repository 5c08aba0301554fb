using Conclave.Api.Etcd;
using Conclave.Server.Security;
using Conclave.Server.Security.Auth;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// etcd's Auth service and RBAC (ADR 0014) as etcd's users meet them: the real etcdctl 3.4 adds users and roles, grants a
/// prefix, enables auth, and then reads, writes, txns and watches with <c>--user</c> inside and outside the grant; raw
/// gRPC calls with no token, a forged one, or a valid token of a user without the permission are refused with etcd's
/// codes and texts and change nothing.
/// </summary>
public sealed class AuthTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestCertificates certificates = new();

    public void Dispose() => certificates.Dispose();

    private static ServerOptions Fast(ServerOptions o) => o with { Auth = new AuthSettings { BcryptCost = 4 } };

    /// <summary>root (root role), alice (readwrite on "app/", read on "shared"), then auth enable, all through etcdctl.</summary>
    private static async Task SetUpAsync(string endpoint)
    {
        (await Etcdctl.RunAsync(endpoint, "user", "add", "root:rootpw")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "user", "add", "alice:alicepw")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "role", "add", "app")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "role", "grant-permission", "app", "readwrite", "app/", "--prefix")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "role", "grant-permission", "app", "read", "shared")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "user", "grant-role", "alice", "app")).EnsureSuccess();
        (await Etcdctl.RunAsync(endpoint, "put", "shared", "s0")).EnsureSuccess();
        // etcdctl adds the root role and grants it to root when the member answers "root user does not have root role".
        (await Etcdctl.RunAsync(endpoint, "auth", "enable")).EnsureSuccess();
    }

    [Fact]
    public async Task Etcdctl_users_roles_and_prefix_permissions_work_as_on_etcd()
    {
        await using var node = await TestNode.StartInProcessAsync(output, Fast);
        var e = node.Endpoint;
        await SetUpAsync(e);

        (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "put", "app/x", "1")).EnsureSuccess();
        Assert.Equal(["1"], (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "get", "app/x", "--print-value-only")).EnsureSuccess().Lines);
        Assert.Equal(["s0"], (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "get", "shared", "--print-value-only")).EnsureSuccess().Lines);

        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "put", "other", "1");
        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "put", "shared", "1");
        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "get", "", "--prefix");
        await RefusedAsync("etcdserver: user name is empty", e, "put", "app/y", "1");
        await RefusedAsync("etcdserver: authentication failed, invalid user ID or password", e, "--user", "alice:wrong", "get", "app/x");
        await RefusedAsync("etcdserver: authentication failed, invalid user ID or password", e, "--user", "nobody:x", "get", "app/x");

        // A txn is refused when any branch reaches outside the grant, whichever branch would run.
        var txn = await Etcdctl.RunAsync(e, ["--user", "alice:alicepw", "txn"], stdin: "value(\"app/x\") = \"1\"\n\nput app/x 2\n\nput other 2\n\n");
        Assert.NotEqual(0, txn.ExitCode);
        Assert.Contains("etcdserver: permission denied", txn.Stderr, StringComparison.Ordinal);

        // Nothing refused was written; root sees everything.
        Assert.Equal(["1"], (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "get", "app/x", "--print-value-only")).EnsureSuccess().Lines);
        Assert.Equal("", (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "get", "other")).EnsureSuccess().Stdout.Trim());
        Assert.Equal(["s0"], (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "get", "shared", "--print-value-only")).EnsureSuccess().Lines);

        // User and role management is root's; a user may look at itself.
        Assert.Contains("Roles: app", (await Etcdctl.RunAsync(e, "--user", "alice:alicepw", "user", "get", "alice")).EnsureSuccess().Stdout, StringComparison.Ordinal);
        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "user", "list");
        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "role", "add", "mine");
        Assert.Equal(["alice", "root"], (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "user", "list")).EnsureSuccess().Lines);

        // Revoked: the next write is refused (checked where it is applied, against the store at that point).
        (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "role", "revoke-permission", "app", "app/", "--prefix")).EnsureSuccess();
        await RefusedAsync("etcdserver: permission denied", e, "--user", "alice:alicepw", "put", "app/x", "3");

        // Disabled again: open, as etcd.
        (await Etcdctl.RunAsync(e, "--user", "root:rootpw", "auth", "disable")).EnsureSuccess();
        (await Etcdctl.RunAsync(e, "put", "other", "open")).EnsureSuccess();
    }

    [Fact]
    public async Task Calls_without_a_valid_token_or_without_the_permission_are_refused_with_etcds_codes_and_change_nothing()
    {
        await using var node = await TestNode.StartInProcessAsync(output, Fast);
        await SetUpAsync(node.Endpoint);
        using var channel = node.CreateChannel();
        var auth = new Auth.AuthClient(channel);
        var kv = new KV.KVClient(channel);
        var aliceToken = (await auth.AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        var rootToken = (await auth.AuthenticateAsync(new AuthenticateRequest { Name = "root", Password = "rootpw" })).Token;
        Metadata As(string token) => new() { { Authenticator.TokenMetadata, token } };

        var forged = aliceToken[..^2] + (aliceToken[^2] == 'A' ? "BB" : "AA");
        var put = new PutRequest { Key = ByteString.CopyFromUtf8("app/z"), Value = ByteString.CopyFromUtf8("v") };
        await ExpectAsync(StatusCode.Unauthenticated, "etcdserver: invalid auth token", kv.PutAsync(put, As(forged)).ResponseAsync);
        await ExpectAsync(StatusCode.Unauthenticated, "etcdserver: invalid auth token", kv.PutAsync(put, As("not-a-token")).ResponseAsync);
        await ExpectAsync(StatusCode.InvalidArgument, "etcdserver: user name is empty", kv.PutAsync(put).ResponseAsync);
        await ExpectAsync(StatusCode.PermissionDenied, "etcdserver: permission denied",
            kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("other/z") }, As(aliceToken)).ResponseAsync);
        await ExpectAsync(StatusCode.PermissionDenied, "etcdserver: permission denied",
            kv.CompactAsync(new CompactionRequest { Revision = 1 }, As(aliceToken)).ResponseAsync);
        var maintenance = new Maintenance.MaintenanceClient(channel);
        await ExpectAsync(StatusCode.PermissionDenied, "etcdserver: permission denied",
            maintenance.HashKVAsync(new HashKVRequest(), As(aliceToken)).ResponseAsync);
        await ExpectAsync(StatusCode.PermissionDenied, "etcdserver: permission denied",
            new Api.Etcd.Cluster.ClusterClient(channel).MemberRemoveAsync(new MemberRemoveRequest { ID = 1 }, As(aliceToken)).ResponseAsync);
        Assert.Equal(0, (await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("app/z") }, As(rootToken))).Count);

        // The permitted calls work; root may do the admin ones.
        await kv.PutAsync(put, As(aliceToken));
        Assert.Equal(1, (await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("app/z") }, As(aliceToken))).Count);
        await maintenance.HashKVAsync(new HashKVRequest(), As(rootToken));
        Assert.True((await auth.AuthStatusAsync(new AuthStatusRequest())).Enabled);

        // A password change ends the tokens issued before it.
        await auth.UserChangePasswordAsync(new AuthUserChangePasswordRequest { Name = "alice", Password = "newpw" }, As(rootToken));
        await ExpectAsync(StatusCode.Unauthenticated, "etcdserver: invalid auth token", kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("app/z") }, As(aliceToken)).ResponseAsync);
    }

    [Fact]
    public async Task The_json_gateway_signs_in_and_takes_the_token_in_the_authorization_header_as_etcds()
    {
        await using var node = await TestNode.StartInProcessAsync(output, Fast);
        await SetUpAsync(node.Endpoint);
        using var http = node.CreateHttpClient();
        using var signIn = await http.PostAsync("/v3/auth/authenticate", new StringContent("""{"name":"alice","password":"alicepw"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(signIn.IsSuccessStatusCode, await signIn.Content.ReadAsStringAsync());
        var token = System.Text.Json.JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;

        async Task<HttpResponseMessage> PutAsync(string key, string? authorization)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v3/kv/put")
            {
                Content = new StringContent($$"""{"key":"{{Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(key))}}","value":"dg=="}""", System.Text.Encoding.UTF8, "application/json"),
            };
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            return await http.SendAsync(request);
        }

        using (var ok = await PutAsync("app/gw", token))
        {
            Assert.True(ok.IsSuccessStatusCode, await ok.Content.ReadAsStringAsync());
        }

        using (var outside = await PutAsync("other/gw", token))
        {
            Assert.Equal(403, (int)outside.StatusCode);
            Assert.Contains("etcdserver: permission denied", await outside.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var forged = await PutAsync("app/gw", "x" + token))
        {
            Assert.Equal(401, (int)forged.StatusCode);
            Assert.Contains("etcdserver: invalid auth token", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var none = await PutAsync("app/gw", null))
        {
            Assert.Equal(400, (int)none.StatusCode);
            Assert.Contains("etcdserver: user name is empty", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_http_api_needs_a_signed_in_user_and_the_audit_names_that_user_not_the_header()
    {
        await using var node = await TestNode.StartInProcessAsync(output, Fast);
        await SetUpAsync(node.Endpoint);
        using var http = node.CreateHttpClient();
        static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

        using (var anonymous = await http.GetAsync("/api/v1/apps"))
        {
            Assert.Equal(401, (int)anonymous.StatusCode);
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
            Assert.Contains("\"code\":\"Unauthenticated\"", await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var wrong = await http.PostAsync("/api/v1/session", Json("""{"name":"alice","password":"nope"}""")))
        {
            Assert.Equal(401, (int)wrong.StatusCode);
        }

        using var signIn = await http.PostAsync("/api/v1/session", Json("""{"name":"alice","password":"alicepw"}"""));
        Assert.True(signIn.IsSuccessStatusCode, await signIn.Content.ReadAsStringAsync());
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        var token = System.Text.Json.JsonDocument.Parse(await signIn.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;

        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/apps") { Content = Json("""{"id":"orders"}""") };
        create.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        create.Headers.Add("X-Conclave-Author", "mallory");
        using (var created = await http.SendAsync(create))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        using var audit = new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps/orders/audit");
        audit.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var entries = await http.SendAsync(audit);
        var text = await entries.Content.ReadAsStringAsync();
        Assert.Contains("\"author\":\"alice\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("mallory", text, StringComparison.Ordinal);

        // The raw keyspace view reads as the user: alice may read app/ but not the whole keyspace; the cluster's lease
        // and lock lists are root's.
        using var keys = new HttpRequestMessage(HttpMethod.Get, "/api/v1/keys?prefix=");
        keys.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(403, (int)(await http.SendAsync(keys)).StatusCode);
        using var mine = new HttpRequestMessage(HttpMethod.Get, "/api/v1/keys?prefix=app/");
        mine.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Assert.True((await http.SendAsync(mine)).IsSuccessStatusCode);
        using var leases = new HttpRequestMessage(HttpMethod.Get, "/api/v1/cluster/leases");
        leases.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(403, (int)(await http.SendAsync(leases)).StatusCode);

        // /health and /metrics stay open for probes.
        Assert.True((await http.GetAsync("/health")).IsSuccessStatusCode);
    }

    [Fact]
    public async Task A_watch_delivers_only_keys_its_user_may_read_and_ends_when_the_permission_goes()
    {
        await using var node = await TestNode.StartInProcessAsync(output, Fast);
        await SetUpAsync(node.Endpoint);
        using var channel = node.CreateChannel();
        var token = (await new Auth.AuthClient(channel).AuthenticateAsync(new AuthenticateRequest { Name = "alice", Password = "alicepw" })).Token;
        using var call = new Api.Etcd.Watch.WatchClient(channel).Watch(new Metadata { { Authenticator.TokenMetadata, token } });

        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("other") } });
        Assert.True(await call.ResponseStream.MoveNext());
        var refused = call.ResponseStream.Current;
        Assert.True(refused.Created && refused.Canceled, refused.ToString());
        Assert.Equal("rpc error: code = PermissionDenied desc = etcdserver: permission denied", refused.CancelReason);

        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("app/"), RangeEnd = ByteString.CopyFromUtf8("app0") } });
        Assert.True(await call.ResponseStream.MoveNext());
        var created = call.ResponseStream.Current;
        Assert.True(created.Created && !created.Canceled, created.ToString());
        (await Etcdctl.RunAsync(node.Endpoint, "--user", "alice:alicepw", "put", "app/w", "1")).EnsureSuccess();
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("app/w", Assert.Single(call.ResponseStream.Current.Events).Kv.Key.ToStringUtf8());

        (await Etcdctl.RunAsync(node.Endpoint, "--user", "root:rootpw", "user", "revoke-role", "alice", "app")).EnsureSuccess();
        (await Etcdctl.RunAsync(node.Endpoint, "--user", "root:rootpw", "put", "app/w", "2")).EnsureSuccess();
        Assert.True(await call.ResponseStream.MoveNext());
        var ended = call.ResponseStream.Current;
        Assert.True(ended.Canceled && ended.WatchId == created.WatchId, ended.ToString());
        Assert.Equal("rpc error: code = PermissionDenied desc = etcdserver: permission denied", ended.CancelReason);
        Assert.Empty(ended.Events);
    }

    [Fact]
    public async Task Under_client_cert_auth_the_certificates_common_name_is_the_user()
    {
        var member = certificates.IssueMember();
        var alice = certificates.IssueClient("alice");
        var root = certificates.IssueClient("root");
        await using var node = await TestNode.StartInProcessAsync(
            output,
            o => Fast(o) with { Tls = new TlsSettings { CertFile = member.Cert, KeyFile = member.Key, TrustedCaFile = certificates.CaFile, ClientCertAuth = true } },
            https: true);
        string[] Tls((string Cert, string Key, System.Security.Cryptography.X509Certificates.X509Certificate2 _) who) => ["--cacert", certificates.CaFile, "--cert", who.Cert, "--key", who.Key];

        var e = node.Endpoint;
        foreach (var step in new[] { "user add root:rootpw", "user add alice:alicepw", "role add app", "role grant-permission app readwrite app/ --prefix", "user grant-role alice app", "auth enable" })
        {
            (await Etcdctl.RunAsync(e, [.. Tls(root), .. step.Split(' ')], stdin: null)).EnsureSuccess();
        }

        (await Etcdctl.RunAsync(e, [.. Tls(alice), "put", "app/cert", "1"], stdin: null)).EnsureSuccess();
        var outside = await Etcdctl.RunAsync(e, [.. Tls(alice), "put", "other", "1"], stdin: null);
        Assert.Contains("etcdserver: permission denied", outside.Stderr, StringComparison.Ordinal);
        (await Etcdctl.RunAsync(e, [.. Tls(root), "put", "other", "1"], stdin: null)).EnsureSuccess();
    }

    private static async Task RefusedAsync(string expected, string endpoint, params string[] args)
    {
        var result = await Etcdctl.RunAsync(endpoint, args);
        Assert.True(result.ExitCode != 0, $"expected a refusal:\n{result}");
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
    }

    private static async Task ExpectAsync<T>(StatusCode code, string message, Task<T> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(code, e.StatusCode);
        Assert.Equal(message, e.Status.Detail);
    }
}

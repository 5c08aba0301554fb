using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Config.V1;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.ConfigCenter.Tests;

/// <summary>The center as clients see it: the /api/v1 JSON API, conclave.config.v1 over gRPC, and what etcd's KV API shows of it (nothing).</summary>
public sealed class ServingTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private HttpClient Http(string? author = "carol")
    {
        var http = fixture.Node.CreateHttpClient();
        if (author is not null)
        {
            http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        }

        return http;
    }

    [Fact]
    public async Task Http_api_creates_publishes_and_answers_problem_details()
    {
        using var http = Http();
        var app = "web-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/apps", new { id = app, owner = "team-web" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs", new { name = "PRO" })).StatusCode);
        var nsUrl = $"/api/v1/apps/{app}/envs/PRO/namespaces";
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync(nsUrl, new { name = "settings", format = "json" })).StatusCode);

        var duplicate = await http.PostAsJsonAsync("/api/v1/apps", new { id = app });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("application/problem+json", duplicate.Content.Headers.ContentType?.MediaType);
        var problem = await duplicate.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("AlreadyExists", problem.GetProperty("code").GetString());
        Assert.Contains("already exists", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using (var anonymous = Http(author: null))
        {
            var refused = await anonymous.PostAsJsonAsync("/api/v1/apps", new { id = app + "x" });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("X-Conclave-Author", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var ns = await http.GetFromJsonAsync<JsonElement>($"{nsUrl}/settings");
        var revision = ns.GetProperty("revision").GetInt64();
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync($"{nsUrl}/settings/content", new { content = "{\"a\": }", expectedRevision = revision })).StatusCode);
        var bad = await http.PostAsJsonAsync($"{nsUrl}/settings/releases", new { title = "t" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        var badProblem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, badProblem.GetProperty("line").GetInt32());
        Assert.True(badProblem.GetProperty("column").GetInt32() > 1);

        var stale = await http.PutAsJsonAsync($"{nsUrl}/settings/content", new { content = "{\"a\": 1}", expectedRevision = revision });
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync($"{nsUrl}/settings/content", new { content = "{\"a\": 1}" })).StatusCode);
        var release = await (await http.PostAsJsonAsync($"{nsUrl}/settings/releases", new { title = "first" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, release.GetProperty("id").GetInt64());
        Assert.Equal("carol", release.GetProperty("author").GetString());

        var effective = await http.GetFromJsonAsync<JsonElement>($"{nsUrl}/settings/effective?instanceId=i-1");
        Assert.Equal("{\"a\": 1}", effective.GetProperty("release").GetProperty("content").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{nsUrl}/nothing/effective?instanceId=i-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsJsonAsync($"{nsUrl}/settings/rollback", new { toReleaseId = 9 })).StatusCode);

        var audit = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{app}/audit");
        var publish = audit.EnumerateArray().First(a => a.GetProperty("action").GetString() == "release.publish");
        Assert.Equal("carol", publish.GetProperty("author").GetString());
        Assert.StartsWith("127.0.0.1:", publish.GetProperty("from").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_fetch_subscribe_report_and_convergence()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", Model.NamespaceFormat.Properties, null, NodeFixture.Alice);
        using var channel = fixture.Node.CreateChannel();
        var client = new ConfigService.ConfigServiceClient(channel);
        var me = new InstanceIdentity { InstanceId = "pod-1", Labels = { "zone=eu1" } };

        var noRelease = await Assert.ThrowsAsync<RpcException>(() => client.FetchAsync(new FetchRequest { App = app, Env = "DEV", Namespaces = { "application" }, Instance = me }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, noRelease.StatusCode);
        Assert.Equal("NoRelease", noRelease.Trailers.GetValue("conclave-code"));

        await fixture.Center.SetItemAsync(app, "DEV", "application", new Model.ConfigItem("k", "1"), 0, NodeFixture.Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", null, null, 0, NodeFixture.Alice);
        var fetched = Assert.Single((await client.FetchAsync(new FetchRequest { App = app, Env = "DEV", Namespaces = { "application" }, Instance = me })).Releases);
        Assert.Equal("1", fetched.Configurations["k"]);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = client.Subscribe(new SubscribeRequest { App = app, Env = "DEV", Namespaces = { "application" }, Instance = me, LastSeen = { ["application"] = 1 } }, cancellationToken: cts.Token);
        var next = call.ResponseStream.MoveNext(cts.Token);
        await fixture.Center.SetItemAsync(app, "DEV", "application", new Model.ConfigItem("k", "2"), 0, NodeFixture.Alice);
        await fixture.Center.GrayPublishAsync(app, "DEV", "application", new Model.GrayRule { Labels = ["zone=eu1"] }, null, null, 0, NodeFixture.Alice);
        Assert.True(await next);
        Assert.True(call.ResponseStream.Current.Gray);
        Assert.Equal(2, call.ResponseStream.Current.ReleaseId);

        await client.ReportAsync(new ReportRequest { App = app, Env = "DEV", Namespace = "application", Instance = me, ReleaseId = 2 });
        await client.ReportAsync(new ReportRequest { App = app, Env = "DEV", Namespace = "application", Instance = new InstanceIdentity { InstanceId = "pod-2" }, ReleaseId = 2, Status = DeliveryStatus.Rejected, Reason = "bad k" });
        var convergence = await client.GetConvergenceAsync(new ConvergenceRequest { App = app, Env = "DEV", Namespace = "application", ReleaseId = 2 });
        Assert.Equal(2, convergence.Instances);
        Assert.Equal(1, convergence.Applied);
        Assert.Equal("bad k", Assert.Single(convergence.Rejected).Reason);
    }

    [Fact]
    public async Task Plain_kv_reaches_user_keys_only_never_the_center_s_records()
    {
        var app = await fixture.NewAppAsync();
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);

        // The very key the center keeps the app under is, through etcd's API, just a user key.
        var key = Keyspace.ConfigKeys.App(app);
        await kv.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFromUtf8("x") });
        var everything = await kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) });
        Assert.Equal([key], everything.Kvs.Select(k => k.Key));
        var deleted = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) });
        Assert.Equal(1, deleted.Deleted);

        Assert.Equal(app, (await fixture.Center.GetAppAsync(app)).Id);
        Assert.Contains(await fixture.Center.ListEnvironmentsAsync(app), e => e.Name == "DEV");
    }
}

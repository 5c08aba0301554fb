using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>The read models the web console uses: environment overview, validation dry-run, live delivery, global audit.</summary>
public sealed class ConsoleApiTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private HttpClient Http(string author = "dora")
    {
        var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        return http;
    }

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Overview_shows_the_latest_release_and_unpublished_changes()
    {
        using var http = Http();
        var app = await fixture.NewAppAsync();
        var env = $"/api/v1/apps/{app}/envs/DEV";
        await SendAsync(http, HttpMethod.Post, $"{env}/namespaces", new { name = "application", format = "properties" });
        await SendAsync(http, HttpMethod.Post, $"{env}/namespaces", new { name = "empty.json", format = "json" });

        async Task<JsonElement> RowAsync(string name) =>
            (await SendAsync(http, HttpMethod.Get, $"{env}/overview")).EnumerateArray().Single(n => n.GetProperty("name").GetString() == name);

        Assert.False((await RowAsync("empty.json")).GetProperty("unpublished").GetBoolean());
        await SendAsync(http, HttpMethod.Put, $"{env}/namespaces/application/items/port", new { value = "80" });
        var edited = await RowAsync("application");
        Assert.True(edited.GetProperty("unpublished").GetBoolean());
        Assert.Equal(JsonValueKind.Null, edited.GetProperty("head").ValueKind);

        await SendAsync(http, HttpMethod.Post, $"{env}/namespaces/application/releases", new { title = "one" });
        var published = await RowAsync("application");
        Assert.False(published.GetProperty("unpublished").GetBoolean());
        Assert.Equal(1, published.GetProperty("head").GetProperty("id").GetInt64());
        Assert.Equal("one", published.GetProperty("head").GetProperty("title").GetString());

        // Back to the published value: nothing left to publish.
        await SendAsync(http, HttpMethod.Put, $"{env}/namespaces/application/items/port", new { value = "81" });
        Assert.True((await RowAsync("application")).GetProperty("unpublished").GetBoolean());
        await SendAsync(http, HttpMethod.Put, $"{env}/namespaces/application/items/port", new { value = "80" });
        Assert.False((await RowAsync("application")).GetProperty("unpublished").GetBoolean());
    }

    [Fact]
    public async Task Validate_is_a_dry_run_that_reports_line_and_column()
    {
        using var http = Http();
        var app = await fixture.NewAppAsync();
        var ns = $"/api/v1/apps/{app}/envs/DEV/namespaces/db.yaml";
        await SendAsync(http, HttpMethod.Post, $"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "db.yaml", format = "yaml", schema = """{"type":"object","required":["pool"]}""" });

        var bad = await SendAsync(http, HttpMethod.Post, $"{ns}/validate", new { content = "pool: 10\nhosts: [a, b\n" });
        Assert.False(bad.GetProperty("valid").GetBoolean());
        Assert.Equal("InvalidDocument", bad.GetProperty("code").GetString());
        Assert.True(bad.GetProperty("line").GetInt32() >= 2);
        Assert.True(bad.GetProperty("column").GetInt32() >= 1);

        var schema = await SendAsync(http, HttpMethod.Post, $"{ns}/validate", new { content = "size: 10\n" });
        Assert.False(schema.GetProperty("valid").GetBoolean());
        Assert.Contains("pool", schema.GetProperty("message").GetString(), StringComparison.Ordinal);

        Assert.True((await SendAsync(http, HttpMethod.Post, $"{ns}/validate", new { content = "pool: 10\n" })).GetProperty("valid").GetBoolean());

        // A dry run changes nothing.
        var n = await SendAsync(http, HttpMethod.Get, ns);
        Assert.Equal("", n.GetProperty("content").GetString());

        using var missing = await http.PostAsJsonAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/nope/validate", new { content = "" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Delivery_events_send_a_snapshot_then_one_after_each_report()
    {
        using var http = Http();
        var app = await fixture.NewAppAsync();
        var ns = $"/api/v1/apps/{app}/envs/DEV/namespaces/application";
        await SendAsync(http, HttpMethod.Post, $"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "application", format = "properties" });
        await SendAsync(http, HttpMethod.Put, $"{ns}/items/a", new { value = "1" });
        await SendAsync(http, HttpMethod.Post, $"{ns}/releases", new { title = "r1" });
        // A namespace whose name extends this one's must not wake this stream.
        await SendAsync(http, HttpMethod.Post, $"/api/v1/apps/{app}/envs/DEV/namespaces", new { name = "application.extra", format = "text" });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await http.GetAsync($"{ns}/delivery/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
        await using var events = SseParser.Create(body).EnumerateAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        async Task<JsonElement> NextAsync()
        {
            Assert.True(await events.MoveNextAsync());
            Assert.Equal("delivery", events.Current.EventType);
            return JsonDocument.Parse(events.Current.Data).RootElement.Clone();
        }

        var first = await NextAsync();
        Assert.Equal(1, first.GetProperty("headReleaseId").GetInt64());
        Assert.Equal(0, first.GetProperty("instanceCount").GetInt32());

        await SendAsync(http, HttpMethod.Put, $"/api/v1/apps/{app}/envs/DEV/namespaces/application.extra/content", new { content = "x" });
        await SendAsync(http, HttpMethod.Post, $"{ns}/reports", new { instanceId = "pod-a", releaseId = 1, status = "Applied" });
        var second = await NextAsync();
        Assert.Equal(1, second.GetProperty("instanceCount").GetInt32());
        Assert.Equal(1, second.GetProperty("applied").GetInt32());

        await SendAsync(http, HttpMethod.Post, $"{ns}/reports", new { instanceId = "pod-b", releaseId = 1, status = "Rejected", reason = "bad value" });
        var third = await NextAsync();
        Assert.Equal(2, third.GetProperty("instanceCount").GetInt32());
        Assert.Equal(1, third.GetProperty("rejected").GetInt32());
        Assert.Equal("bad value", third.GetProperty("instances").EnumerateArray().Single(i => i.GetProperty("instanceId").GetString() == "pod-b").GetProperty("reason").GetString());

        // A gray release changes the namespace record: the stream follows with the cohort.
        await SendAsync(http, HttpMethod.Put, $"{ns}/items/a", new { value = "2" });
        await SendAsync(http, HttpMethod.Post, $"{ns}/gray", new { rule = new { instanceIds = new[] { "pod-a" } } });
        var gray = await Eventually.WaitForAsync(_ => NextAsync(), s => s.GetProperty("gray").ValueKind == JsonValueKind.Object, Eventually.DefaultTimeout, "a snapshot with the gray release");
        Assert.Equal(1, gray.GetProperty("grayCohort").GetInt32());
        Assert.True(gray.GetProperty("instances").EnumerateArray().Single(i => i.GetProperty("instanceId").GetString() == "pod-a").GetProperty("inGray").GetBoolean());

        using var missing = await http.GetAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/nope/delivery/events");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Global_audit_spans_apps_newest_first_and_filters()
    {
        var appA = await fixture.NewAppAsync();
        var appB = await fixture.NewAppAsync();
        using (var frank = Http("frank"))
        {
            await SendAsync(frank, HttpMethod.Post, $"/api/v1/apps/{appA}/envs/DEV/namespaces", new { name = "a", format = "text" });
            await SendAsync(frank, HttpMethod.Post, $"/api/v1/apps/{appB}/envs/DEV/namespaces", new { name = "b", format = "text" });
        }

        using var http = Http();
        var all = await SendAsync(http, HttpMethod.Get, "/api/v1/audit?author=frank&limit=1000");
        var mine = all.EnumerateArray().Where(e => e.GetProperty("app").GetString() is { } a && (a == appA || a == appB)).ToList();
        Assert.Equal([appB, appA], mine.Select(e => e.GetProperty("app").GetString()));
        Assert.All(mine, e => Assert.Equal("namespace.create", e.GetProperty("action").GetString()));
        var times = all.EnumerateArray().Select(e => e.GetProperty("at").GetDateTimeOffset()).ToList();
        Assert.Equal(times.OrderDescending(), times);

        var onlyA = await SendAsync(http, HttpMethod.Get, $"/api/v1/audit?app={appA}");
        Assert.Equal(3, onlyA.GetArrayLength()); // app, env, namespace
        Assert.All(onlyA.EnumerateArray(), e => Assert.Equal(appA, e.GetProperty("app").GetString()));
        var creates = await SendAsync(http, HttpMethod.Get, $"/api/v1/audit?app={appA}&action=env.");
        Assert.Equal("env.create", Assert.Single(creates.EnumerateArray()).GetProperty("action").GetString());
        var text = await SendAsync(http, HttpMethod.Get, $"/api/v1/audit?q={appB}/DEV/b");
        Assert.Equal(appB, Assert.Single(text.EnumerateArray()).GetProperty("app").GetString());

        using var unknown = await http.GetAsync("/api/v1/audit?app=no-such-app");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Console;

/// <summary>The console's keyspace API: pages of keys, one key's revisions, a live prefix watch over SSE.</summary>
public sealed class KeysApiTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static async Task PutAsync(HttpClient http, string key, string value) =>
        (await http.PostAsJsonAsync("/v3/kv/put", new { key = B64(key), value = B64(value) })).EnsureSuccessStatusCode();

    private static async Task DeleteAsync(HttpClient http, string key) =>
        (await http.PostAsJsonAsync("/v3/kv/deleterange", new { key = B64(key) })).EnsureSuccessStatusCode();

    [Fact]
    public async Task Lists_keys_under_a_prefix_in_pages()
    {
        using var http = fixture.Node.CreateHttpClient();
        var prefix = Keys.Unique("page") + "/";
        for (var i = 0; i < 5; i++)
        {
            await PutAsync(http, $"{prefix}k{i}", $"v{i}");
        }

        await PutAsync(http, prefix.TrimEnd('/') + "x", "outside the prefix");
        var first = await http.GetFromJsonAsync<JsonElement>($"/api/v1/keys?prefix={Uri.EscapeDataString(prefix)}&limit=3");
        Assert.Equal(["k0", "k1", "k2"], first.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key").GetString()![prefix.Length..]));
        Assert.True(first.GetProperty("more").GetBoolean());
        Assert.Equal("v0", first.GetProperty("keys")[0].GetProperty("value").GetString());
        var second = await http.GetFromJsonAsync<JsonElement>($"/api/v1/keys?prefix={Uri.EscapeDataString(prefix)}&limit=3&after={Uri.EscapeDataString(prefix + "k2")}");
        Assert.Equal(["k3", "k4"], second.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("key").GetString()![prefix.Length..]));
        Assert.False(second.GetProperty("more").GetBoolean());

        using var outside = await http.GetAsync($"/api/v1/keys?prefix={Uri.EscapeDataString(prefix)}&after=zzz");
        Assert.Equal(HttpStatusCode.BadRequest, outside.StatusCode);
        Assert.Contains("does not start with the prefix", (await outside.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_lists_every_retained_revision_newest_first_with_deletions()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("hist");
        await PutAsync(http, key, "a");
        await PutAsync(http, key, "b");
        await DeleteAsync(http, key);
        await PutAsync(http, key, "c");

        var history = await http.GetFromJsonAsync<JsonElement>($"/api/v1/keys/history?key={Uri.EscapeDataString(key)}");
        var revisions = history.GetProperty("revisions").EnumerateArray().ToList();
        Assert.Equal(["put", "delete", "put", "put"], revisions.Select(r => r.GetProperty("type").GetString()));
        Assert.Equal(["c", null, "b", "a"], revisions.Select(r => r.GetProperty("value").GetString()));
        Assert.Equal([1L, 0L, 2L, 1L], revisions.Select(r => r.GetProperty("version").GetInt64()));
        var revs = revisions.Select(r => r.GetProperty("revision").GetInt64()).ToList();
        Assert.Equal(revs.OrderDescending(), revs);
        Assert.Equal(4, revs.Distinct().Count());

        using var missing = await http.GetAsync("/api/v1/keys/history?key=" + Keys.Unique("never"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Watch_streams_changes_under_a_prefix_as_server_sent_events()
    {
        using var http = fixture.Node.CreateHttpClient();
        var prefix = Keys.Unique("sse") + "/";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await http.GetAsync($"/api/v1/keys/watch?prefix={Uri.EscapeDataString(prefix)}", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
        await using var events = SseParser.Create(body).EnumerateAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await events.MoveNextAsync());
        Assert.Equal("ready", events.Current.EventType);
        await PutAsync(http, prefix + "a", "1");
        await PutAsync(http, Keys.Unique("elsewhere"), "not watched");
        await DeleteAsync(http, prefix + "a");

        var seen = new List<(string Type, string Key)>();
        while (seen.Count < 2 && await events.MoveNextAsync())
        {
            var data = JsonDocument.Parse(events.Current.Data).RootElement;
            seen.Add((events.Current.EventType, data.GetProperty("kv").GetProperty("key").GetString()!));
        }

        Assert.Equal([("put", prefix + "a"), ("delete", prefix + "a")], seen);
    }

    [Fact]
    public async Task Watch_from_a_compacted_revision_is_refused()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("compact");
        await PutAsync(http, key, "1");
        var put = await (await http.PostAsJsonAsync("/v3/kv/put", new { key = B64(key), value = B64("2") })).Content.ReadFromJsonAsync<JsonElement>();
        var revision = put.GetProperty("header").GetProperty("revision").GetString();
        (await http.PostAsJsonAsync("/v3/kv/compaction", new { revision })).EnsureSuccessStatusCode();
        using var gone = await http.GetAsync("/api/v1/keys/watch?fromRevision=1");
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        Assert.Equal("Compacted", (await gone.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Gateway;

/// <summary>The HTTP/1.1 listener: etcd's JSON gateway (base64 bytes, int64 as strings), /health and /metrics.</summary>
public sealed class JsonGatewayTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Put_then_range_round_trips_base64_keys_and_values()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("gw");

        var put = await PostAsync(http, "/v3/kv/put", new { key = B64(key), value = B64("from http") });
        var range = await PostAsync(http, "/v3/kv/range", new { key = B64(key) });

        var revision = Int64(put.GetProperty("header").GetProperty("revision"));
        Assert.True(revision > 1);
        Assert.Equal(1, Int64(range.GetProperty("count")));
        var kv = Assert.Single(range.GetProperty("kvs").EnumerateArray());
        Assert.Equal(key, Text(kv.GetProperty("key")));
        Assert.Equal("from http", Text(kv.GetProperty("value")));
        Assert.Equal(revision, Int64(kv.GetProperty("mod_revision")));
        Assert.Equal(revision, Int64(kv.GetProperty("create_revision")));
        Assert.Equal(1, Int64(kv.GetProperty("version")));

        // The same key is visible over gRPC (etcdctl).
        var get = await Etcdctl.RunAsync(fixture.Endpoint, "get", key, "--print-value-only");
        Assert.Equal(["from http"], get.Lines);
    }

    [Fact]
    public async Task Range_end_deleterange_and_txn_work_over_json()
    {
        using var http = fixture.Node.CreateHttpClient();
        var p = Keys.Unique("gwrange");
        await PostAsync(http, "/v3/kv/put", new { key = B64($"{p}/a"), value = B64("1") });
        await PostAsync(http, "/v3/kv/put", new { key = B64($"{p}/b"), value = B64("2") });

        var range = await PostAsync(http, "/v3/kv/range", new { key = B64($"{p}/"), range_end = B64($"{p}0") });
        var txn = await PostAsync(http, "/v3/kv/txn", new
        {
            compare = new[] { new { key = B64($"{p}/a"), target = "VALUE", result = "EQUAL", value = B64("1") } },
            success = new[] { new { request_put = new { key = B64($"{p}/c"), value = B64("3") } } },
        });
        var deleted = await PostAsync(http, "/v3/kv/deleterange", new { key = B64($"{p}/"), range_end = B64($"{p}0"), prev_kv = true });

        Assert.Equal(2, Int64(range.GetProperty("count")));
        Assert.True(txn.GetProperty("succeeded").GetBoolean(), txn.ToString());
        Assert.Equal(3, Int64(deleted.GetProperty("deleted")));
        Assert.Equal(["1", "2", "3"], deleted.GetProperty("prev_kvs").EnumerateArray().Select(kv => Text(kv.GetProperty("value"))));
    }

    [Fact]
    public async Task Compaction_over_json_makes_older_revisions_unreadable()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("gwcompact");
        var first = Int64((await PostAsync(http, "/v3/kv/put", new { key = B64(key), value = B64("1") })).GetProperty("header").GetProperty("revision"));
        var second = Int64((await PostAsync(http, "/v3/kv/put", new { key = B64(key), value = B64("2") })).GetProperty("header").GetProperty("revision"));

        await PostAsync(http, "/v3/kv/compaction", new { revision = second.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var old = await http.PostAsJsonAsync(new Uri("/v3/kv/range", UriKind.Relative), new { key = B64(key), revision = first.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var body = JsonDocument.Parse(await old.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, old.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision has been compacted", body.GetProperty("error").GetString());
        Assert.Equal(11, body.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Errors_carry_etcds_message_and_an_http_status()
    {
        using var http = fixture.Node.CreateHttpClient();

        using var response = await http.PostAsJsonAsync(new Uri("/v3/kv/put", UriKind.Relative), new { key = "", value = B64("v") });
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("etcdserver: key is not provided", body.GetProperty("error").GetString());
        Assert.Equal(3, body.GetProperty("code").GetInt32());
    }

    /// <summary>
    /// etcd 3.4's gateway reads any body and hands the request to its gRPC server: a message over the server's limit
    /// (--max-request-bytes + 512 KiB) gets gRPC's ResourceExhausted, a smaller one over --max-request-bytes etcd's
    /// "request is too large". Answers of etcd 3.4.23 to these puts (value of 1,600,000 / 2,200,000 bytes):
    /// 400 {"error":"etcdserver: request is too large",...,"code":3} and
    /// 429 {"error":"grpc: received message larger than max (2200008 vs. 2097152)",...,"code":8}.
    /// </summary>
    [Theory]
    [InlineData(1_600_000, 400, 3, "etcdserver: request is too large")]
    [InlineData(2_200_000, 429, 8, "grpc: received message larger than max ({0} vs. 2097152)")]
    [InlineData(3_000_000, 429, 8, "grpc: received message larger than max (more than ")] // its JSON is over 4 MB: not kept
    public async Task An_oversized_body_is_answered_as_etcd_answers_it(int valueBytes, int status, int code, string error)
    {
        Assert.Equal(2_097_152, fixture.Node.Server.Node.Options.MaxMessageBytes); // etcd's default, as in the texts above
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("gw-large");

        var value = new byte[valueBytes];
        var messageBytes = new Conclave.Api.Etcd.PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key), Value = Google.Protobuf.ByteString.CopyFrom(value) }.CalculateSize();

        using var response = await http.PostAsJsonAsync(new Uri("/v3/kv/put", UriKind.Relative), new { key = B64(key), value = Convert.ToBase64String(value) });
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith(string.Format(System.Globalization.CultureInfo.InvariantCulture, error, messageBytes), body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(body.GetProperty("error").GetString(), body.GetProperty("message").GetString());
        Assert.Equal(code, body.GetProperty("code").GetInt32());
        var stored = await Etcdctl.RunAsync(fixture.Endpoint, "get", key, "--print-value-only");
        Assert.True(stored.ExitCode == 0 && string.IsNullOrWhiteSpace(stored.Stdout), stored.ToString());
    }

    [Theory]
    [InlineData("{bad")]
    [InlineData("{\"key\": 5}")]
    [InlineData("[1, 2]")]
    public async Task Malformed_json_is_invalid_argument_not_a_server_error(string json)
    {
        using var http = fixture.Node.CreateHttpClient();

        using var response = await http.PostAsync(new Uri("/v3/kv/put", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("malformed JSON request: ", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, body.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Health_answers_true()
    {
        using var http = fixture.Node.CreateHttpClient();

        using var response = await http.GetAsync(new Uri("/health", UriKind.Relative));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("true", body.GetProperty("health").GetString());
    }

    [Fact]
    public async Task Metrics_expose_request_counts_and_the_applied_index()
    {
        using var http = fixture.Node.CreateHttpClient();
        await PostAsync(http, "/v3/kv/put", new { key = B64(Keys.Unique("metrics")), value = B64("v") });
        (await Etcdctl.RunAsync(fixture.Endpoint, "get", "metrics-probe")).EnsureSuccess();

        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Contains("conclave_grpc_requests_total{", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE conclave_grpc_requests_total counter", text, StringComparison.Ordinal);
        var applied = text.Split('\n').Single(l => l.StartsWith("conclave_raft_applied_index ", StringComparison.Ordinal));
        Assert.True(double.Parse(applied.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0, applied);
    }

    [Fact]
    public async Task Metrics_expose_the_process_memory_and_the_gc_heap()
    {
        using var http = fixture.Node.CreateHttpClient();
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        double Value(string name) => double.Parse(
            text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1],
            System.Globalization.CultureInfo.InvariantCulture);

        Assert.Contains("# TYPE process_resident_memory_bytes gauge", text, StringComparison.Ordinal);
        var resident = Value("process_resident_memory_bytes");
        var heap = Value("dotnet_gc_heap_size_bytes");
        var committed = Value("dotnet_gc_committed_bytes");
        Assert.InRange(heap, 0, committed); // zero until the first collection
        Assert.InRange(committed, 1, resident);
        Assert.Contains("dotnet_gc_collections_total{generation=\"0\"} ", text, StringComparison.Ordinal);

        // By generation: the sizes add up to at most what the collector committed, and each one's free space is inside it.
        long Labelled(string name, string generation) => long.Parse(
            text.Split('\n').Single(l => l.StartsWith($"{name}{{generation=\"{generation}\"}} ", StringComparison.Ordinal)).Split(' ')[1],
            System.Globalization.CultureInfo.InvariantCulture);
        long sizes = 0;
        foreach (var generation in new[] { "0", "1", "2", "loh", "poh" })
        {
            var size = Labelled("dotnet_gc_generation_size_bytes", generation);
            Assert.InRange(Labelled("dotnet_gc_generation_fragmented_bytes", generation), 0, size);
            sizes += size;
        }

        Assert.InRange(sizes, 0L, (long)committed);
        Assert.Contains("# TYPE dotnet_gc_pause_seconds_total counter", text, StringComparison.Ordinal);
        Assert.InRange(Value("dotnet_gc_pause_seconds_total"), 0, 3600);
    }

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Text(JsonElement b64) => Encoding.UTF8.GetString(b64.GetBytesFromBase64());

    // Proto JSON writes int64 as a string.
    private static long Int64(JsonElement e) => e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : e.GetInt64();
}

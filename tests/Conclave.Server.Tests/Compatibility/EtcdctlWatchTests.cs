using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>
/// <c>etcdctl watch</c> runs in the background; the test writes and then waits (with a deadline) until the
/// expected lines appear on its stdout.
/// </summary>
public sealed class EtcdctlWatchTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan LinesTimeout = TimeSpan.FromSeconds(20);

    private string Endpoint => fixture.Endpoint;

    private string HttpUrl => fixture.Node.HttpUrl;

    [Fact]
    public async Task Watch_prefix_prints_puts_and_deletes_under_the_prefix_only()
    {
        var p = Keys.Unique("watch");
        await Metrics.WaitForWatchersAsync(HttpUrl, 0);
        await using var watch = Etcdctl.Start(Endpoint, "watch", $"{p}/", "--prefix");
        await Metrics.WaitForWatchersAsync(HttpUrl, 1);

        await Etcd.PutAsync(Endpoint, $"{p}/a", "1");
        await Etcd.PutAsync(Endpoint, $"{p}x", "outside");
        await Etcd.PutAsync(Endpoint, $"{p}/b", "2");
        await Etcdctl.RunAsync(Endpoint, "del", $"{p}/a");

        await watch.WaitForLinesAsync(["PUT", $"{p}/a", "1", "PUT", $"{p}/b", "2", "DELETE", $"{p}/a", ""], LinesTimeout);
        Assert.DoesNotContain($"{p}x", watch.Lines);
    }

    [Fact]
    public async Task Watch_rev_replays_history_from_that_revision_then_follows_live_writes()
    {
        var key = Keys.Unique("replay");
        await Etcd.PutAsync(Endpoint, key, "v1");
        var second = await Etcd.PutAsync(Endpoint, key, "v2");
        await Etcd.PutAsync(Endpoint, key, "v3");
        await Metrics.WaitForWatchersAsync(HttpUrl, 0);

        await using var watch = Etcdctl.Start(Endpoint, "watch", key, $"--rev={second}");
        await watch.WaitForLinesAsync(["PUT", key, "v2", "PUT", key, "v3"], LinesTimeout);
        await Etcd.PutAsync(Endpoint, key, "v4");

        await watch.WaitForLinesAsync(["PUT", key, "v2", "PUT", key, "v3", "PUT", key, "v4"], LinesTimeout);
        Assert.DoesNotContain("v1", watch.Lines);
    }

    [Fact]
    public async Task Watch_prev_kv_prints_the_previous_pair_before_each_event()
    {
        var key = Keys.Unique("wprev");
        await Metrics.WaitForWatchersAsync(HttpUrl, 0);
        await using var watch = Etcdctl.Start(Endpoint, "watch", key, "--prev-kv");
        await Metrics.WaitForWatchersAsync(HttpUrl, 1);

        await Etcd.PutAsync(Endpoint, key, "a");
        await Etcd.PutAsync(Endpoint, key, "b");
        await Etcdctl.RunAsync(Endpoint, "del", key);

        // PUT without a previous pair: key, value. With one: prev key, prev value, key, value.
        await watch.WaitForLinesAsync(
            ["PUT", key, "a", "PUT", key, "a", key, "b", "DELETE", key, "b", key, ""],
            LinesTimeout);
    }

    [Fact]
    public async Task Watch_json_prints_events_with_revisions()
    {
        var key = Keys.Unique("wjson");
        await Metrics.WaitForWatchersAsync(HttpUrl, 0);
        await using var watch = Etcdctl.Start(Endpoint, "watch", key, "-w", "json");
        await Metrics.WaitForWatchersAsync(HttpUrl, 1);

        var rev = await Etcd.PutAsync(Endpoint, key, "j");

        var line = await watch.WaitForLineAsync(l => l.Contains("\"Events\"", StringComparison.Ordinal), LinesTimeout, "a JSON watch response with events");
        using var document = System.Text.Json.JsonDocument.Parse(line);
        var ev = Assert.Single(document.RootElement.GetProperty("Events").EnumerateArray());
        var kv = ev.GetProperty("kv");
        Assert.Equal(key, EtcdJson.Text(kv, "key"));
        Assert.Equal("j", EtcdJson.Text(kv, "value"));
        Assert.Equal(rev, EtcdJson.Int(kv, "mod_revision"));
        Assert.Equal(rev, document.RootElement.GetProperty("Header").GetProperty("revision").GetInt64());
    }
}

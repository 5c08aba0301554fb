using System.Text.RegularExpressions;
using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>etcdctl's endpoint, member, snapshot and alarm commands.</summary>
public sealed class EtcdctlMaintenanceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private string Endpoint => fixture.Endpoint;

    /// <summary>The endpoint as host:port (no scheme).</summary>
    private string HostPort => new Uri(Endpoint).Authority;

    [Fact]
    public async Task Endpoint_status_json_reports_version_leader_and_raft_indexes()
    {
        await Etcd.PutAsync(Endpoint, Keys.Unique("status"), "v");

        // host:port, because etcdctl 3.4 sends the scheme-qualified endpoint as :authority (see the next test).
        var result = await Etcdctl.RunAsync(HostPort, "endpoint", "status", "-w", "json");

        var entry = Assert.Single(EtcdJson.Parse(result).EnumerateArray());
        Assert.Equal(HostPort, entry.GetProperty("Endpoint").GetString());
        var status = entry.GetProperty("Status");
        var memberId = status.GetProperty("header").GetProperty("member_id").GetUInt64();
        Assert.NotEqual(0UL, memberId);
        Assert.Equal(memberId, status.GetProperty("leader").GetUInt64());
        Assert.False(string.IsNullOrEmpty(status.GetProperty("version").GetString()));
        Assert.True(status.GetProperty("dbSize").GetInt64() > 0, status.ToString());
        Assert.True(status.GetProperty("raftIndex").GetInt64() > 0, status.ToString());
        Assert.True(status.GetProperty("raftAppliedIndex").GetInt64() > 0, status.ToString());
        Assert.False(status.TryGetProperty("errors", out _), status.ToString());
    }

    [Fact]
    public async Task Endpoint_status_reports_a_raft_term_of_at_least_one()
    {
        var result = await Etcdctl.RunAsync(HostPort, "endpoint", "status", "-w", "json");

        var status = Assert.Single(EtcdJson.Parse(result).EnumerateArray()).GetProperty("Status");
        // A leader exists only after an election, which raises the term; etcd prints raftTerm >= 2 for a fresh member.
        Assert.True(status.TryGetProperty("raftTerm", out var term) && term.GetUInt64() >= 1, $"raftTerm missing or 0: {status}");
    }

    [Theory]
    [InlineData("endpoint", "status")]
    [InlineData("endpoint", "hashkv")]
    [InlineData("defrag")]
    public async Task Per_endpoint_maintenance_commands_work_with_an_http_scheme_endpoint(params string[] command)
    {
        // etcdctl 3.4 dials a connection per endpoint for these commands, and its :authority is then the whole
        // "http://127.0.0.1:PORT". etcd accepts that; Kestrel alone resets the stream (PROTOCOL_ERROR), so the gRPC
        // listener repairs the value (Grpc/Authority).
        var result = await Etcdctl.RunAsync(Endpoint, [.. command, "-w", "json"], stdin: null);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("PROTOCOL_ERROR", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endpoint_hashkv_is_stable_between_writes_and_changes_with_them()
    {
        await Etcd.PutAsync(Endpoint, Keys.Unique("hash"), "v");
        var first = await HashAsync();
        var again = await HashAsync();
        await Etcd.PutAsync(Endpoint, Keys.Unique("hash"), "w");
        var changed = await HashAsync();

        Assert.Equal(first, again);
        Assert.NotEqual(first, changed);

        async Task<long> HashAsync()
        {
            var result = await Etcdctl.RunAsync(HostPort, "endpoint", "hashkv", "-w", "json");
            var entry = Assert.Single(EtcdJson.Parse(result).EnumerateArray());
            return entry.GetProperty("HashKV").GetProperty("hash").GetInt64();
        }
    }

    [Fact]
    public async Task Defrag_succeeds()
    {
        var result = await Etcdctl.RunAsync(HostPort, "defrag");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([$"Finished defragmenting etcd member[{HostPort}]"], result.Lines);
    }

    [Fact]
    public async Task Endpoint_status_table_shows_the_member_as_leader()
    {
        var result = await Etcdctl.RunAsync(HostPort, "endpoint", "status", "-w", "table");

        Assert.True(result.ExitCode == 0, result.ToString());
        var header = result.Lines.Single(l => l.Contains("ENDPOINT", StringComparison.Ordinal));
        Assert.Equal(
            ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"],
            Cells(header));
        var row = Cells(result.Lines.Single(l => l.Contains(HostPort, StringComparison.Ordinal)));
        Assert.Equal(HostPort, row[0]);
        Assert.Matches("^[0-9a-f]+$", row[1]);
        Assert.Equal("true", row[4]);
        Assert.Equal("false", row[5]);
        Assert.Equal("", row[9]);
    }

    [Fact]
    public async Task Endpoint_health_reports_healthy()
    {
        var plain = await Etcdctl.RunAsync(Endpoint, "endpoint", "health");
        var json = await Etcdctl.RunAsync(Endpoint, "endpoint", "health", "-w", "json");

        Assert.True(plain.ExitCode == 0, plain.ToString());
        // etcdctl 3.4 prints this line on stderr.
        Assert.Matches(new Regex($"^{Regex.Escape(Endpoint)} is healthy: successfully committed proposal: took = ", RegexOptions.Multiline), plain.Stdout + plain.Stderr);
        var entry = Assert.Single(EtcdJson.Parse(json).EnumerateArray());
        Assert.Equal(Endpoint, entry.GetProperty("endpoint").GetString());
        Assert.True(entry.GetProperty("health").GetBoolean());
    }

    [Fact]
    public async Task Member_list_prints_this_member_with_its_urls_under_etcds_header()
    {
        await Etcd.PutAsync(Endpoint, Keys.Unique("members"), "v");
        var json = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "member", "list", "-w", "json"));
        var plain = await Etcdctl.RunAsync(Endpoint, "member", "list");

        var member = Assert.Single(json.GetProperty("members").EnumerateArray());
        var id = member.GetProperty("ID").GetUInt64();
        Assert.Equal("test-node", member.GetProperty("name").GetString());
        Assert.Equal([fixture.Node.PeerUrl], member.GetProperty("peerURLs").EnumerateArray().Select(e => e.GetString()));
        // Client URLs are listed as advertised, scheme included, as etcd lists them.
        var listed = Endpoint;
        Assert.Equal([listed], member.GetProperty("clientURLs").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([$"{id:x}, started, test-node, {fixture.Node.PeerUrl}, {listed}, false"], plain.Lines);

        // etcd 3.4's Cluster service fills cluster_id, member_id and raft_term, and no revision (checked against
        // etcd 3.4.23: `{"header":{"cluster_id":...,"member_id":...,"raft_term":2},"members":[...]}`).
        var header = json.GetProperty("header");
        Assert.Equal(["cluster_id", "member_id", "raft_term"], header.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(id, header.GetProperty("member_id").GetUInt64());
    }

    [Fact]
    public async Task Snapshot_save_writes_a_non_empty_file()
    {
        await Etcd.PutAsync(Endpoint, Keys.Unique("snapshot"), "v");
        using var directory = TempDirectory.Create("conclave-snapshot-");
        var path = directory.Combine("backup.db");

        var result = await Etcdctl.RunAsync(Endpoint, "snapshot", "save", path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"Snapshot saved at {path}", result.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(path), result.ToString());
        Assert.True(new FileInfo(path).Length > 0);
    }

    [Fact]
    public async Task Alarm_list_is_empty_on_a_healthy_member()
    {
        var result = await Etcdctl.RunAsync(Endpoint, "alarm", "list");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stdout);
    }

    private static string[] Cells(string tableRow) =>
        [.. tableRow.Trim().Trim('|').Split('|').Select(c => c.Trim())];
}

using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>etcdctl 3.4 put / get / del against a real node, asserting what etcdctl prints.</summary>
public sealed class EtcdctlKvTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Put_prints_OK_and_get_prints_key_then_value()
    {
        var key = Keys.Unique("put");

        var put = await Etcdctl.RunAsync(Endpoint, "put", key, "hello world");
        var get = await Etcdctl.RunAsync(Endpoint, "get", key);

        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal(["OK"], put.Lines);
        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal([key, "hello world"], get.Lines);
    }

    [Fact]
    public async Task Get_of_a_missing_key_prints_nothing()
    {
        var get = await Etcdctl.RunAsync(Endpoint, "get", Keys.Unique("missing"));

        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal("", get.Stdout);
    }

    [Fact]
    public async Task Get_prefix_prints_every_key_under_the_prefix_in_key_order()
    {
        var p = Keys.Unique("prefix");
        foreach (var (k, v) in new[] { ($"{p}/b", "2"), ($"{p}/a", "1"), ($"{p}/c", "3"), ($"{p}x", "outside") })
        {
            await Etcd.PutAsync(Endpoint, k, v);
        }

        var get = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix");

        Assert.Equal([$"{p}/a", "1", $"{p}/b", "2", $"{p}/c", "3"], get.Lines);
    }

    [Fact]
    public async Task Get_json_prints_revisions_version_count_and_header_revision()
    {
        var key = Keys.Unique("json");
        var created = await Etcd.PutAsync(Endpoint, key, "v1");
        var modified = await Etcd.PutAsync(Endpoint, key, "v2");

        var root = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", key, "-w", "json"));

        Assert.True(modified > created, $"second put revision {modified} should be above the first {created}");
        Assert.True(EtcdJson.HeaderRevision(root) >= modified);
        Assert.NotEqual(0UL, root.GetProperty("header").GetProperty("cluster_id").GetUInt64());
        Assert.NotEqual(0UL, root.GetProperty("header").GetProperty("member_id").GetUInt64());
        Assert.Equal(1, EtcdJson.Int(root, "count"));
        Assert.False(EtcdJson.Bool(root, "more"));
        var kv = Assert.Single(EtcdJson.Kvs(root));
        Assert.Equal(key, EtcdJson.Text(kv, "key"));
        Assert.Equal("v2", EtcdJson.Text(kv, "value"));
        Assert.Equal(created, EtcdJson.Int(kv, "create_revision"));
        Assert.Equal(modified, EtcdJson.Int(kv, "mod_revision"));
        Assert.Equal(2, EtcdJson.Int(kv, "version"));
    }

    [Fact]
    public async Task Header_carries_the_raft_term_of_the_elected_leader()
    {
        var key = Keys.Unique("term");
        await Etcd.PutAsync(Endpoint, key, "v");

        var root = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", key, "-w", "json"));

        // A member can only lead after winning an election, which raises the term above 0 (etcd prints raft_term >= 2).
        Assert.True(
            root.GetProperty("header").TryGetProperty("raft_term", out var term) && term.GetUInt64() >= 1,
            $"header should carry raft_term >= 1: {root.GetProperty("header")}");
    }

    [Fact]
    public async Task Get_limit_returns_the_first_keys_and_reports_more_and_the_full_count()
    {
        var p = Keys.Unique("limit");
        for (var i = 0; i < 3; i++)
        {
            await Etcd.PutAsync(Endpoint, $"{p}/{i}", $"v{i}");
        }

        var plain = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--limit", "2");
        var root = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--limit", "2", "-w", "json"));

        Assert.Equal([$"{p}/0", "v0", $"{p}/1", "v1"], plain.Lines);
        Assert.Equal(2, EtcdJson.Kvs(root).Count);
        Assert.True(EtcdJson.Bool(root, "more"), root.ToString());
        Assert.Equal(3, EtcdJson.Int(root, "count"));
    }

    [Fact]
    public async Task Get_sort_by_and_order_sort_the_result()
    {
        var p = Keys.Unique("sort");
        // Modified in the order c, a, b; values sort as a < b < c in reverse: z, y, x.
        await Etcd.PutAsync(Endpoint, $"{p}/c", "x");
        await Etcd.PutAsync(Endpoint, $"{p}/a", "z");
        await Etcd.PutAsync(Endpoint, $"{p}/b", "y");

        var byKeyDescending = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--sort-by=KEY", "--order=DESCEND", "--keys-only");
        var byModifyAscending = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--sort-by=MODIFY", "--order=ASCEND", "--keys-only");
        var byValueAscending = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "--print-value-only");
        var byCreateDescending = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--sort-by=CREATE", "--order=DESCEND", "--keys-only");

        // --keys-only prints each key followed by an empty line, as etcd does.
        Assert.Equal([$"{p}/c", "", $"{p}/b", "", $"{p}/a", ""], byKeyDescending.Lines);
        Assert.Equal([$"{p}/c", "", $"{p}/a", "", $"{p}/b", ""], byModifyAscending.Lines);
        Assert.Equal(["x", "y", "z"], byValueAscending.Lines);
        Assert.Equal([$"{p}/b", "", $"{p}/a", "", $"{p}/c", ""], byCreateDescending.Lines);
    }

    [Fact]
    public async Task Get_print_value_only_and_keys_only()
    {
        var key = Keys.Unique("only");
        await Etcd.PutAsync(Endpoint, key, "the value");

        var valueOnly = await Etcdctl.RunAsync(Endpoint, "get", key, "--print-value-only");
        var keysOnly = await Etcdctl.RunAsync(Endpoint, "get", key, "--keys-only");
        var keysOnlyJson = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", key, "--keys-only", "-w", "json"));

        Assert.Equal(["the value"], valueOnly.Lines);
        Assert.Equal([key, ""], keysOnly.Lines);
        var kv = Assert.Single(EtcdJson.Kvs(keysOnlyJson));
        Assert.False(kv.TryGetProperty("value", out _), $"--keys-only must not return values: {kv}");
    }

    [Fact]
    public async Task Get_rev_reads_the_value_as_of_that_revision()
    {
        var key = Keys.Unique("rev");
        var first = await Etcd.PutAsync(Endpoint, key, "old");
        await Etcd.PutAsync(Endpoint, key, "new");

        var atFirst = await Etcdctl.RunAsync(Endpoint, "get", key, $"--rev={first}");
        var beforeFirst = await Etcdctl.RunAsync(Endpoint, "get", key, $"--rev={first - 1}");
        var now = await Etcdctl.RunAsync(Endpoint, "get", key);

        Assert.Equal([key, "old"], atFirst.Lines);
        Assert.Equal("", beforeFirst.Stdout);
        Assert.Equal([key, "new"], now.Lines);
    }

    [Fact]
    public async Task Del_prints_the_number_deleted_and_prefix_deletes_the_range()
    {
        var p = Keys.Unique("del");
        await Etcd.PutAsync(Endpoint, $"{p}/1", "a");
        await Etcd.PutAsync(Endpoint, $"{p}/2", "b");
        await Etcd.PutAsync(Endpoint, $"{p}/3", "c");

        var one = await Etcdctl.RunAsync(Endpoint, "del", $"{p}/1");
        var missing = await Etcdctl.RunAsync(Endpoint, "del", $"{p}/1");
        var rest = await Etcdctl.RunAsync(Endpoint, "del", $"{p}/", "--prefix");
        var after = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix");

        Assert.Equal(["1"], one.Lines);
        Assert.Equal(["0"], missing.Lines);
        Assert.Equal(["2"], rest.Lines);
        Assert.Equal("", after.Stdout);
    }

    [Fact]
    public async Task Del_prev_kv_prints_the_count_then_the_deleted_pairs()
    {
        var p = Keys.Unique("prevkv");
        await Etcd.PutAsync(Endpoint, $"{p}/a", "1");
        await Etcd.PutAsync(Endpoint, $"{p}/b", "2");

        var del = await Etcdctl.RunAsync(Endpoint, "del", $"{p}/", "--prefix", "--prev-kv");

        Assert.Equal(["2", $"{p}/a", "1", $"{p}/b", "2"], del.Lines);
    }

    [Fact]
    public async Task Put_prev_kv_prints_the_overwritten_pair()
    {
        var key = Keys.Unique("putprev");
        await Etcd.PutAsync(Endpoint, key, "before");

        var put = await Etcdctl.RunAsync(Endpoint, "put", key, "after", "--prev-kv");

        Assert.Equal(["OK", key, "before"], put.Lines);
    }

    [Fact]
    public async Task Only_writes_that_change_something_advance_the_revision()
    {
        // Runs alone on this class's node (tests of a class run one at a time), so nothing else writes meanwhile.
        var p = Keys.Unique("revs");
        var start = await Etcd.PutAsync(Endpoint, $"{p}/k", "v");

        var deleteNothing = await Etcdctl.RunAsync(Endpoint, "del", $"{p}/missing");
        var afterDeleteNothing = await Etcd.RevisionAsync(Endpoint);
        await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: $"value(\"{p}/k\") = \"other\"\n\n\n\n");
        var afterEmptyFailedTxn = await Etcd.RevisionAsync(Endpoint);
        await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: $"\nget {p}/k\n\n\n");
        var afterReadOnlyTxn = await Etcd.RevisionAsync(Endpoint);
        var samePut = await Etcd.PutAsync(Endpoint, $"{p}/k", "v");
        var deleteOne = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "del", $"{p}/k", "-w", "json"));

        Assert.Equal(["0"], deleteNothing.Lines);
        Assert.Equal(start, afterDeleteNothing);
        Assert.Equal(start, afterEmptyFailedTxn);
        Assert.Equal(start, afterReadOnlyTxn);
        Assert.Equal(start + 1, samePut);
        Assert.Equal(start + 2, EtcdJson.HeaderRevision(deleteOne));
    }

    [Fact]
    public async Task Put_ignore_value_keeps_the_value_and_fails_on_a_missing_key()
    {
        var key = Keys.Unique("ignore");
        await Etcd.PutAsync(Endpoint, key, "kept");

        var ignore = await Etcdctl.RunAsync(Endpoint, "put", key, "--ignore-value");
        var get = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", key, "-w", "json"));
        var missing = await Etcdctl.RunAsync(Endpoint, "put", Keys.Unique("nokey"), "--ignore-value");

        Assert.Equal(["OK"], ignore.Lines);
        var kv = Assert.Single(EtcdJson.Kvs(get));
        Assert.Equal("kept", EtcdJson.Text(kv, "value"));
        Assert.Equal(2, EtcdJson.Int(kv, "version"));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("Error: etcdserver: key not found", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sort_applies_before_limit_and_from_key_reads_to_the_end()
    {
        var p = Keys.Unique("sortlimit");
        await Etcd.PutAsync(Endpoint, $"{p}/a", "2");
        await Etcd.PutAsync(Endpoint, $"{p}/b", "3");
        await Etcd.PutAsync(Endpoint, $"{p}/c", "1");

        var topByValue = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--sort-by=VALUE", "--order=DESCEND", "--limit=1");
        var fromKey = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/b", "--from-key", "--keys-only");
        var range = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/a", $"{p}/c", "--keys-only");

        Assert.Equal([$"{p}/b", "3"], topByValue.Lines);
        // --from-key reaches every key after the start, including other tests' keys: check the first two only.
        Assert.Equal([$"{p}/b", "", $"{p}/c", ""], fromKey.Lines.Take(4));
        Assert.Equal([$"{p}/a", "", $"{p}/b", ""], range.Lines);
    }

    [Fact]
    public async Task Unicode_and_empty_values_round_trip_and_serializable_reads_see_them()
    {
        var p = Keys.Unique("unicode");
        var unicodeKey = $"{p}/ключ/😀";
        var emptyKey = $"{p}/empty";

        await Etcd.PutAsync(Endpoint, unicodeKey, "значение ✓");
        await Etcd.PutAsync(Endpoint, emptyKey, "");
        var unicode = await Etcdctl.RunAsync(Endpoint, "get", unicodeKey);
        var empty = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, "get", emptyKey, "-w", "json"));
        var serializable = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/", "--prefix", "--keys-only", "--consistency=s");

        Assert.Equal([unicodeKey, "значение ✓"], unicode.Lines);
        var kv = Assert.Single(EtcdJson.Kvs(empty));
        Assert.Equal("", EtcdJson.Text(kv, "value"));
        Assert.Equal(1, EtcdJson.Int(kv, "version"));
        Assert.Equal([emptyKey, "", unicodeKey, ""], serializable.Lines);
    }
}

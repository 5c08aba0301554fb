using System.Text.Json;
using Conclave.Client.Tests.Conformance;
using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Cli;

/// <summary>The <c>conclave kv|endpoint|member</c> commands against a running server, end to end.</summary>
public abstract class CliConformanceTests(KvEndpointFixture fixture)
{
    private string Endpoints => string.Join(',', fixture.Endpoints);

    [Fact]
    public async Task Kv_put_get_del_print_like_etcdctl()
    {
        var prefix = TestKeys.UniquePrefix("cli-kv");

        var put = await CliRun.RunAsync("kv", "put", prefix + "a", "1", "--endpoints", Endpoints);
        var overwrite = await CliRun.RunAsync("kv", "put", prefix + "a", "2", "--prev-kv", "--endpoints", Endpoints);
        await CliRun.RunAsync("kv", "put", prefix + "b", "3", "--endpoints", Endpoints);
        var get = await CliRun.RunAsync("kv", "get", prefix, "--prefix", "--endpoints", Endpoints);
        var count = await CliRun.RunAsync("kv", "get", prefix, "--prefix", "--count-only", "--endpoints", Endpoints);
        var sorted = await CliRun.RunAsync("kv", "--endpoints", Endpoints, "get", prefix, "--prefix", "--keys-only", "--sort-by", "KEY", "--order", "DESCEND");
        var del = await CliRun.RunAsync("kv", "del", prefix, "--prefix", "--endpoints", Endpoints);

        Assert.Equal((0, "OK\n"), (put.ExitCode, put.Out));
        Assert.Equal($"OK\n{prefix}a\n1\n", overwrite.Out);
        Assert.Equal($"{prefix}a\n2\n{prefix}b\n3\n", get.Out);
        Assert.Equal("2\n", count.Out);
        Assert.Equal($"{prefix}b\n{prefix}a\n", sorted.Out);
        Assert.Equal("2\n", del.Out);
        Assert.Equal(string.Empty, put.Error + get.Error + del.Error);
    }

    [Fact]
    public async Task Kv_get_json_output_carries_revisions()
    {
        var key = TestKeys.UniquePrefix("cli-json") + "k";
        await CliRun.RunAsync("kv", "put", key, "v", "--endpoints", Endpoints);

        var get = await CliRun.RunAsync("kv", "get", key, "-o", "json", "--endpoints", Endpoints);

        using var json = JsonDocument.Parse(get.Out);
        var kv = json.RootElement.GetProperty("kvs")[0];
        Assert.Equal(key, kv.GetProperty("key").GetString());
        Assert.Equal("v", kv.GetProperty("value").GetString());
        Assert.Equal(1, kv.GetProperty("version").GetInt64());
        Assert.True(json.RootElement.GetProperty("header").GetProperty("revision").GetInt64() >= kv.GetProperty("mod_revision").GetInt64());
    }

    [Fact]
    public async Task Kv_txn_reads_etcdctl_syntax_from_stdin()
    {
        var key = TestKeys.UniquePrefix("cli-txn") + "mode";
        await CliRun.RunAsync("kv", "put", key, "blue", "--endpoints", Endpoints);
        var script = $"""
            value("{key}") = "blue"
            version("{key}") > "0"

            put {key} "green and blue"
            get {key}

            get {key}

            """;

        var success = await CliRun.RunWithInputAsync(script, "kv", "txn", "--endpoints", Endpoints);
        var failure = await CliRun.RunWithInputAsync(script, "kv", "txn", "--endpoints", Endpoints);
        var invalid = await CliRun.RunWithInputAsync("valu(\"k\") = \"v\"\n\n", "kv", "txn", "--endpoints", Endpoints);

        Assert.Equal($"SUCCESS\n\nOK\n\n{key}\ngreen and blue\n", success.Out);
        Assert.Equal($"FAILURE\n\n{key}\ngreen and blue\n", failure.Out);
        Assert.Equal(1, invalid.ExitCode);
        Assert.StartsWith("Error: txn line 1: unknown comparison target 'valu'", invalid.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endpoint_status_and_member_list_describe_the_cluster()
    {
        var simple = await CliRun.RunAsync("endpoint", "status", "--endpoints", Endpoints);
        var json = await CliRun.RunAsync("endpoint", "status", "-o", "json", "--endpoints", Endpoints);
        var table = await CliRun.RunAsync("member", "list", "-o", "table", "--endpoints", Endpoints);

        Assert.Equal(0, simple.ExitCode);
        Assert.Contains(", true, false, ", simple.Out, StringComparison.Ordinal); // is leader, is learner
        using var doc = JsonDocument.Parse(json.Out);
        Assert.True(doc.RootElement[0].GetProperty("is_leader").GetBoolean());
        Assert.Contains("| ID ", table.Out, StringComparison.Ordinal);
        Assert.Contains("started", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Member_add_learner_promote_refused_until_in_sync_then_remove()
    {
        // A learner never started: it changes no quorum (safe on a one-member cluster), cannot be promoted, and goes.
        var peerUrl = $"http://127.0.0.1:{FreePorts.Take(1)[0]}";
        var add = await CliRun.RunAsync("member", "add", "cli-learner", "--learner", "--peer-urls", peerUrl, "--endpoints", Endpoints);
        Assert.Equal(0, add.ExitCode);
        Assert.Contains("as a learner", add.Out, StringComparison.Ordinal);
        Assert.Contains($"cli-learner={peerUrl}", add.Out, StringComparison.Ordinal);
        var id = add.Out.Split(' ')[1];

        var list = await CliRun.RunAsync("member", "list", "--endpoints", Endpoints);
        Assert.Contains($"{id}, unstarted, , {peerUrl}, , true", list.Out, StringComparison.Ordinal);

        var promote = await CliRun.RunAsync("member", "promote", id, "--endpoints", Endpoints);
        Assert.Equal(1, promote.ExitCode);
        Assert.Contains("can only promote a learner member which is in sync with leader", promote.Error, StringComparison.Ordinal);

        var remove = await CliRun.RunAsync("member", "remove", id, "--endpoints", Endpoints);
        Assert.Equal((0, $"Member {id} removed\n"), (remove.ExitCode, remove.Out));
        var after = await CliRun.RunAsync("member", "list", "--endpoints", Endpoints);
        Assert.DoesNotContain(id, after.Out, StringComparison.Ordinal);

        var unknown = await CliRun.RunAsync("member", "remove", "2a", "--endpoints", Endpoints);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("member not found", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_are_one_line_on_stderr_with_a_failing_exit_code()
    {
        var dead = $"127.0.0.1:{FreePorts.Take(1)[0]}";

        var unreachable = await CliRun.RunAsync("kv", "get", "k", "--endpoints", dead, "--dial-timeout", "1");
        var future = await CliRun.RunAsync("kv", "get", "k", "--rev", "999999999", "--endpoints", Endpoints);
        var emptyKey = await CliRun.RunAsync("kv", "put", string.Empty, "v", "--endpoints", Endpoints);

        Assert.Equal(1, unreachable.ExitCode);
        Assert.Equal(string.Empty, unreachable.Out);
        Assert.Matches($"^Error: http://{dead} is unavailable: .+\n$", unreachable.Error);
        Assert.Equal(1, future.ExitCode);
        Assert.Matches("^Error: Revision 999999999 is a future revision.*\n$", future.Error);
        Assert.Equal(1, emptyKey.ExitCode);
        Assert.Contains("key is not provided", emptyKey.Error, StringComparison.Ordinal);
    }
}

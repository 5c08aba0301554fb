using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Compatibility;

/// <summary><c>etcdctl txn</c> with its interactive syntax on stdin: compares, blank line, success ops, blank line, failure ops.</summary>
public sealed class EtcdctlTxnTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private string Endpoint => fixture.Endpoint;

    [Fact]
    public async Task Txn_takes_the_success_branch_when_the_compare_holds()
    {
        var p = Keys.Unique("txnok");
        await Etcd.PutAsync(Endpoint, $"{p}/guard", "v1");

        var txn = await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: $"value(\"{p}/guard\") = \"v1\"\n\nput {p}/out chosen\n\nput {p}/out wrong\n\n");
        var after = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/out", "--print-value-only");

        Assert.True(txn.ExitCode == 0, txn.ToString());
        Assert.Equal(["SUCCESS", "", "OK"], txn.Lines);
        Assert.Equal(["chosen"], after.Lines);
    }

    [Fact]
    public async Task Txn_takes_the_failure_branch_and_prints_each_response()
    {
        var p = Keys.Unique("txnfail");
        await Etcd.PutAsync(Endpoint, $"{p}/guard", "v1");

        var txn = await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: $"value(\"{p}/guard\") = \"other\"\n\nput {p}/out wrong\n\nput {p}/out fallback\nget {p}/guard\n\n");
        var after = await Etcdctl.RunAsync(Endpoint, "get", $"{p}/out", "--print-value-only");

        Assert.True(txn.ExitCode == 0, txn.ToString());
        Assert.Equal(["FAILURE", "", "OK", "", $"{p}/guard", "v1"], txn.Lines);
        Assert.Equal(["fallback"], after.Lines);
    }

    [Fact]
    public async Task Txn_json_reports_succeeded_and_typed_responses()
    {
        var p = Keys.Unique("txnjson");
        var rev = await Etcd.PutAsync(Endpoint, $"{p}/guard", "v1");

        var ok = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, ["txn", "-w", "json"], stdin: $"mod(\"{p}/guard\") = \"{rev}\"\n\nput {p}/a 1\nget {p}/guard\n\n\n"));
        var failed = EtcdJson.Parse(await Etcdctl.RunAsync(Endpoint, ["txn", "-w", "json"], stdin: $"version(\"{p}/guard\") > \"5\"\n\n\ndel {p}/guard\n\n"));

        Assert.True(EtcdJson.Bool(ok, "succeeded"), ok.ToString());
        var responses = ok.GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(2, responses.Count);
        var put = responses[0].GetProperty("Response").GetProperty("ResponsePut");
        Assert.Equal(rev + 1, EtcdJson.HeaderRevision(put));
        var range = responses[1].GetProperty("Response").GetProperty("ResponseRange");
        var kv = Assert.Single(EtcdJson.Kvs(range));
        Assert.Equal("v1", EtcdJson.Text(kv, "value"));
        Assert.Equal(rev, EtcdJson.Int(kv, "mod_revision"));
        Assert.Equal(rev + 1, EtcdJson.HeaderRevision(ok));

        Assert.False(EtcdJson.Bool(failed, "succeeded"), failed.ToString());
        var deleted = Assert.Single(failed.GetProperty("responses").EnumerateArray()).GetProperty("Response").GetProperty("ResponseDeleteRange");
        Assert.Equal(1, EtcdJson.Int(deleted, "deleted"));
    }

    [Fact]
    public async Task Txn_create_revision_zero_is_put_if_absent()
    {
        var key = Keys.Unique("txnabsent");
        var script = $"create(\"{key}\") = \"0\"\n\nput {key} first\n\nget {key}\n\n";

        var first = await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: script);
        var second = await Etcdctl.RunAsync(Endpoint, ["txn"], stdin: script.Replace("first", "second", StringComparison.Ordinal));

        Assert.Equal(["SUCCESS", "", "OK"], first.Lines);
        Assert.Equal(["FAILURE", "", key, "first"], second.Lines);
    }
}

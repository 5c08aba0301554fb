using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Errors;

/// <summary>--max-request-bytes and --max-txn-ops set low on a node of their own.</summary>
public sealed class LimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Request_over_max_request_bytes_is_rejected_as_too_large()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxRequestBytes = 1024 });
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("large");

        var status = await FailureAsync(() => PutAsync(kv, key, new string('x', 2048)));
        var etcdctl = await Etcdctl.RunAsync(node.Endpoint, "put", key, new string('y', 2048));
        var small = await PutAsync(kv, key, new string('z', 512));

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Equal("etcdserver: request is too large", status.Detail);
        Assert.NotEqual(0, etcdctl.ExitCode);
        Assert.Contains("Error: etcdserver: request is too large", etcdctl.Stderr, StringComparison.Ordinal);
        Assert.True(small.Header.Revision > 1);
    }

    [Fact]
    public async Task Txn_over_max_txn_ops_is_rejected_by_etcdctl_txn()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { MaxTxnOps = 3 });
        var p = Keys.Unique("maxops");
        string Script(int puts) => "\n" + string.Concat(Enumerable.Range(0, puts).Select(i => $"put {p}/{i} v\n")) + "\n\n";

        var tooMany = await Etcdctl.RunAsync(node.Endpoint, ["txn"], stdin: Script(4));
        var enough = await Etcdctl.RunAsync(node.Endpoint, ["txn"], stdin: Script(3));

        Assert.NotEqual(0, tooMany.ExitCode);
        Assert.Contains("Error: etcdserver: too many operations in txn request", tooMany.Stderr, StringComparison.Ordinal);
        Assert.True(enough.ExitCode == 0, enough.ToString());
        Assert.Equal(["SUCCESS", "", "OK", "", "OK", "", "OK"], enough.Lines);
    }
}

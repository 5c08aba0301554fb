using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Errors;

/// <summary>Bad requests get etcd's status code and exact message (clients match on the text).</summary>
public sealed class RequestErrorTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Put_of_an_empty_key_is_invalid_argument_key_is_not_provided()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);

        var status = await FailureAsync(() => PutAsync(kv, "", "value"));

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Equal("etcdserver: key is not provided", status.Detail);
    }

    [Fact]
    public async Task Get_of_a_future_revision_fails_with_future_revision()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var revision = (await PutAsync(kv, Keys.Unique("future"), "v")).Header.Revision;

        var status = await FailureAsync(() => kv.RangeAsync(new RangeRequest { Key = Bytes("any"), Revision = revision + 100 }).ResponseAsync);
        var etcdctl = await Etcdctl.RunAsync(fixture.Endpoint, "get", "any", $"--rev={revision + 100}");

        Assert.Equal(StatusCode.OutOfRange, status.StatusCode);
        Assert.Equal("etcdserver: mvcc: required revision is a future revision", status.Detail);
        Assert.NotEqual(0, etcdctl.ExitCode);
        Assert.Contains("Error: etcdserver: mvcc: required revision is a future revision", etcdctl.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Txn_with_more_than_the_default_128_ops_is_rejected()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var p = Keys.Unique("ops");
        var txn = new TxnRequest();
        for (var i = 0; i < 129; i++)
        {
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/{i}"), Value = Bytes("v") } });
        }

        var status = await FailureAsync(() => kv.TxnAsync(txn).ResponseAsync);
        txn.Success.RemoveAt(0);
        var atLimit = await kv.TxnAsync(txn);

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Equal("etcdserver: too many operations in txn request", status.Detail);
        Assert.True(atLimit.Succeeded);
        Assert.Equal(128, atLimit.Responses.Count);
    }

    [Fact]
    public async Task Txn_putting_the_same_key_twice_is_rejected_as_duplicate()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Bytes(Keys.Unique("dup"));
        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = Bytes("1") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = Bytes("2") } });

        var status = await FailureAsync(() => kv.TxnAsync(txn).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.Equal("etcdserver: duplicate key given in txn request", status.Detail);
    }

    [Fact]
    public async Task A_one_mebibyte_value_fits_under_the_default_request_limit()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("mib");
        var value = new string('m', 1024 * 1024);

        var put = await PutAsync(kv, key, value);
        var get = await kv.RangeAsync(new RangeRequest { Key = Bytes(key) });

        Assert.Equal(value.Length, get.Kvs[0].Value.Length);
        Assert.Equal(put.Header.Revision, get.Kvs[0].ModRevision);
    }
}

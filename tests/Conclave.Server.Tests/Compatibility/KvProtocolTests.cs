using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>etcd v3 request fields that etcdctl 3.4 cannot express, sent over raw gRPC.</summary>
public sealed class KvProtocolTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Range_count_only_keys_only_and_mod_revision_filters()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var p = Keys.Unique("filters");
        var a = await PutAsync(kv, $"{p}/a", "1");
        var b = await PutAsync(kv, $"{p}/b", "2");
        var c = await PutAsync(kv, $"{p}/c", "3");
        RangeRequest Range() => new() { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0") };

        var countOnly = await kv.RangeAsync(new RangeRequest(Range()) { CountOnly = true });
        var keysOnly = await kv.RangeAsync(new RangeRequest(Range()) { KeysOnly = true });
        var modWindow = await kv.RangeAsync(new RangeRequest(Range()) { MinModRevision = b.Header.Revision, MaxModRevision = b.Header.Revision });
        var newerThanA = await kv.RangeAsync(new RangeRequest(Range()) { MinModRevision = a.Header.Revision + 1 });
        var serializable = await kv.RangeAsync(new RangeRequest(Range()) { Serializable = true });

        Assert.Equal(3, countOnly.Count);
        Assert.Empty(countOnly.Kvs);
        Assert.Equal(3, keysOnly.Kvs.Count);
        Assert.All(keysOnly.Kvs, k => Assert.True(k.Value.IsEmpty));
        Assert.Equal([$"{p}/b"], modWindow.Kvs.Select(k => k.Key.ToStringUtf8()));
        Assert.Equal([$"{p}/b", $"{p}/c"], newerThanA.Kvs.Select(k => k.Key.ToStringUtf8()));
        Assert.Equal(3, serializable.Kvs.Count);
        Assert.True(serializable.Header.Revision >= c.Header.Revision);
    }

    [Fact]
    public async Task Nested_txn_runs_inside_the_outer_branch()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var p = Keys.Unique("nested");
        await PutAsync(kv, $"{p}/flag", "on");
        var inner = new TxnRequest();
        inner.Compare.Add(new Compare { Key = Bytes($"{p}/flag"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = Bytes("on") });
        inner.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/inner"), Value = Bytes("yes") } });
        var outer = new TxnRequest();
        outer.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/outer"), Value = Bytes("yes") } });
        outer.Success.Add(new RequestOp { RequestTxn = inner });

        var response = await kv.TxnAsync(outer);
        var range = await kv.RangeAsync(new RangeRequest { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0") });

        Assert.True(response.Succeeded);
        Assert.True(response.Responses[1].ResponseTxn.Succeeded);
        Assert.Equal([$"{p}/flag", $"{p}/inner", $"{p}/outer"], range.Kvs.Select(k => k.Key.ToStringUtf8()));
        // One txn, one revision.
        Assert.Equal(range.Kvs[1].ModRevision, range.Kvs[2].ModRevision);
    }

    [Fact]
    public async Task Put_prev_kv_returns_the_previous_pair_and_delete_prev_kv_the_deleted_ones()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("prev");
        var first = await PutAsync(kv, key, "one");

        var second = await kv.PutAsync(new PutRequest { Key = Bytes(key), Value = Bytes("two"), PrevKv = true });
        var deleted = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes(key), PrevKv = true });

        Assert.Equal("one", second.PrevKv.Value.ToStringUtf8());
        Assert.Equal(first.Header.Revision, second.PrevKv.ModRevision);
        Assert.Equal("two", Assert.Single(deleted.PrevKvs).Value.ToStringUtf8());
        Assert.Equal(2, deleted.PrevKvs[0].Version);
    }

    [Fact]
    public async Task Watch_filters_and_cancel()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("filter");
        var start = (await PutAsync(kv, $"{key}-start", "x")).Header.Revision + 1;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = new Api.Etcd.Watch.WatchClient(channel).Watch(cancellationToken: stop.Token);
        var noPut = new WatchCreateRequest { Key = Bytes(key), StartRevision = start, WatchId = 7 };
        noPut.Filters.Add(WatchCreateRequest.Types.FilterType.Noput);
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = noPut });
        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        Assert.True(call.ResponseStream.Current.Created);
        Assert.Equal(7, call.ResponseStream.Current.WatchId);

        await PutAsync(kv, key, "ignored");
        var deleted = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes(key) });
        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        var events = call.ResponseStream.Current;
        await call.RequestStream.WriteAsync(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = 7 } });
        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        var canceled = call.ResponseStream.Current;

        var only = Assert.Single(events.Events);
        Assert.Equal(Api.Mvcc.Event.Types.EventType.Delete, only.Type);
        Assert.Equal(deleted.Header.Revision, only.Kv.ModRevision);
        Assert.True(canceled.Canceled, canceled.ToString());
        Assert.Equal(7, canceled.WatchId);
        await call.RequestStream.CompleteAsync();
    }
}

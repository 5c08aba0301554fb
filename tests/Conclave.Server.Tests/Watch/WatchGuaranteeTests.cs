using System.Collections.Concurrent;
using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Watch;

/// <summary>A watch delivers every event after its start revision, in revision order, without duplicates or gaps.</summary>
public sealed class WatchGuaranteeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Concurrent_writes_reach_a_prefix_watch_in_order_without_gaps_or_duplicates()
    {
        // A node of its own, so every revision after the watch starts belongs to this test's writes.
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var watchClient = new Api.Etcd.Watch.WatchClient(channel);
        var p = Keys.Unique("order");
        var start = (await PutAsync(kv, "before-watch", "x")).Header.Revision + 1;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = watchClient.Watch(cancellationToken: stop.Token);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0"), StartRevision = start },
        });
        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        Assert.True(call.ResponseStream.Current.Created, call.ResponseStream.Current.ToString());

        const int writers = 4, perWriter = 50;
        var acked = new ConcurrentDictionary<long, string>();
        var writes = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                var key = $"{p}/w{w}/{i:D3}";
                var put = await PutAsync(kv, key, key);
                Assert.True(acked.TryAdd(put.Header.Revision, key), $"revision {put.Header.Revision} acknowledged twice");
            }
        })).ToArray();

        var events = new List<(long Revision, string Key)>();
        while (events.Count < writers * perWriter && await call.ResponseStream.MoveNext(stop.Token))
        {
            events.AddRange(call.ResponseStream.Current.Events.Select(e => (e.Kv.ModRevision, e.Kv.Key.ToStringUtf8())));
        }

        await Task.WhenAll(writes);
        Assert.Equal(writers * perWriter, events.Count);
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => start + i), events.Select(e => e.Revision));
        Assert.All(events, e => Assert.Equal(acked[e.Revision], e.Key));
        await call.RequestStream.CompleteAsync();
    }

    [Fact]
    public async Task Events_of_one_txn_share_its_revision_and_arrive_together()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var watchClient = new Api.Etcd.Watch.WatchClient(channel);
        var p = Keys.Unique("txnwatch");
        await PutAsync(kv, $"{p}/gone", "x");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = watchClient.Watch(cancellationToken: stop.Token);
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0"), PrevKv = true } });
        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        Assert.True(call.ResponseStream.Current.Created);

        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/a"), Value = Bytes("1") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/b"), Value = Bytes("2") } });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Bytes($"{p}/gone") } });
        var response = await kv.TxnAsync(txn);

        Assert.True(await call.ResponseStream.MoveNext(stop.Token));
        var events = call.ResponseStream.Current.Events;
        Assert.Equal([$"{p}/a", $"{p}/b", $"{p}/gone"], events.Select(e => e.Kv.Key.ToStringUtf8()));
        Assert.All(events, e => Assert.Equal(response.Header.Revision, e.Kv.ModRevision));
        Assert.Equal(Api.Mvcc.Event.Types.EventType.Delete, events[2].Type);
        Assert.Equal("x", events[2].PrevKv.Value.ToStringUtf8());
        await call.RequestStream.CompleteAsync();
    }
}

using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

public sealed class WatcherTests
{
    private static Watcher PrefixWatcher(string prefix, long start, bool prevKv = false) =>
        new(0, B(prefix), KeyOrder.PrefixEnd(B(prefix)), start, prevKv, noPut: false, noDelete: false, progressNotify: false);

    [Fact]
    public void Slow_watcher_catches_up_from_history_without_gaps_or_duplicates()
    {
        using var d = new StoreDriver();
        var watcher = PrefixWatcher("w/", d.Store.Revision + 1);
        var delivered = new List<Event>();
        var batch = new List<Event>();
        var scratch = new List<RevisionEvents>();

        // Writers run far ahead; the watcher reads in small bites, interleaved with more writes.
        for (var round = 0; round < 50; round++)
        {
            for (var i = 0; i < 100; i++)
            {
                d.Put($"w/{(round * 100) + i}", "v");
                d.Put($"other/{i}", "v");
            }

            batch.Clear();
            Assert.True(watcher.Read(d.Store.Events, d.Store.Revision, maxEvents: 7, batch, scratch));
            delivered.AddRange(batch);
        }

        while (!watcher.IsSyncedTo(d.Store.Revision))
        {
            batch.Clear();
            Assert.True(watcher.Read(d.Store.Events, d.Store.Revision, maxEvents: 64, batch, scratch));
            delivered.AddRange(batch);
        }

        Assert.Equal(5000, delivered.Count);
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => $"w/{i}"), delivered.Select(e => e.Kv.Key.ToStringUtf8()));
        Assert.True(delivered.Zip(delivered.Skip(1)).All(p => p.First.Kv.ModRevision < p.Second.Kv.ModRevision));
    }

    [Fact]
    public void Reads_bounded_in_bytes_stop_at_a_revision_and_lose_nothing()
    {
        using var d = new StoreDriver();
        var watcher = PrefixWatcher("b/", d.Store.Revision + 1, prevKv: true);
        var value = new string('v', 300);
        for (var i = 0; i < 20; i++)
        {
            d.Put($"b/{i % 5}", value, prevKv: true);
        }

        // A txn: its four events share a revision and stay together although they pass the bound.
        var txn = new Api.Etcd.TxnRequest();
        for (var i = 0; i < 4; i++)
        {
            txn.Success.Add(new Api.Etcd.RequestOp { RequestPut = new Api.Etcd.PutRequest { Key = B($"b/t{i}"), Value = B(value) } });
        }

        d.Txn(txn);
        var delivered = new List<Event>();
        var batch = new List<Event>();
        var batches = 0;
        while (!watcher.IsSyncedTo(d.Store.Revision))
        {
            batch.Clear();
            Assert.True(watcher.Read(d.Store.Events, d.Store.Revision, maxEvents: 1000, batch, [], maxBytes: 1000));
            Assert.NotEmpty(batch);
            var revisions = batch.Select(e => e.Kv.ModRevision).Distinct().ToList();
            var beforeLast = batch.Where(e => e.Kv.ModRevision != revisions[^1]).Sum(e => e.Kv.Key.Length + e.Kv.Value.Length + (e.PrevKv?.Value.Length ?? 0) + (e.PrevKv?.Key.Length ?? 0));
            Assert.True(beforeLast < 1000, $"{beforeLast} bytes before the last revision of a batch");
            delivered.AddRange(batch);
            batches++;
        }

        Assert.Equal(24, delivered.Count);
        Assert.True(batches >= 8, $"{batches} batches");
        Assert.True(delivered.Zip(delivered.Skip(1)).All(p => p.First.Kv.ModRevision <= p.Second.Kv.ModRevision));
        Assert.Equal(4, delivered.Count(e => e.Kv.ModRevision == d.Store.Revision));
    }

    [Fact]
    public void Watcher_behind_a_compaction_is_told_so()
    {
        using var d = new StoreDriver();
        var watcher = PrefixWatcher("w/", 2);
        for (var i = 0; i < 10; i++)
        {
            d.Put($"w/{i}", "v");
        }

        d.Compact(8);
        Assert.False(watcher.Read(d.Store.Events, d.Store.Revision, 100, [], []));

        var fromCompaction = PrefixWatcher("w/", 8);
        var events = new List<Event>();
        Assert.True(fromCompaction.Read(d.Store.Events, d.Store.Revision, 100, events, []));
        Assert.Equal(["w/6", "w/7", "w/8", "w/9"], events.Select(e => e.Kv.Key.ToStringUtf8()));
    }

    [Fact]
    public void Filters_and_prev_kv()
    {
        using var d = new StoreDriver();
        d.Put("k", "1");
        d.Put("k", "2");
        d.Delete("k");
        var all = new Watcher(1, B("k"), Google.Protobuf.ByteString.Empty, 2, prevKv: true, noPut: false, noDelete: false, progressNotify: false);
        var events = new List<Event>();
        all.Read(d.Store.Events, d.Store.Revision, 100, events, []);
        Assert.Equal([Event.Types.EventType.Put, Event.Types.EventType.Put, Event.Types.EventType.Delete], events.Select(e => e.Type));
        Assert.Null(events[0].PrevKv);
        Assert.Equal("1", events[1].PrevKv.Value.ToStringUtf8());
        Assert.Equal("2", events[2].PrevKv.Value.ToStringUtf8());
        Assert.Equal(4, events[2].Kv.ModRevision);

        var noPut = new Watcher(2, B("k"), Google.Protobuf.ByteString.Empty, 2, prevKv: false, noPut: true, noDelete: false, progressNotify: false);
        events.Clear();
        noPut.Read(d.Store.Events, d.Store.Revision, 100, events, []);
        var delete = Assert.Single(events);
        Assert.Null(delete.PrevKv);
    }

    [Fact]
    public void Txn_events_share_a_revision_in_write_order()
    {
        using var d = new StoreDriver();
        var txn = new Api.Etcd.TxnRequest();
        txn.Success.Add(new Api.Etcd.RequestOp { RequestPut = new Api.Etcd.PutRequest { Key = B("t/b"), Value = B("1") } });
        txn.Success.Add(new Api.Etcd.RequestOp { RequestPut = new Api.Etcd.PutRequest { Key = B("t/a"), Value = B("1") } });
        d.Txn(txn);
        var events = new List<Event>();
        PrefixWatcher("t/", 1).Read(d.Store.Events, d.Store.Revision, 100, events, []);
        Assert.Equal(["t/b", "t/a"], events.Select(e => e.Kv.Key.ToStringUtf8()));
        Assert.All(events, e => Assert.Equal(2, e.Kv.ModRevision));
    }
}

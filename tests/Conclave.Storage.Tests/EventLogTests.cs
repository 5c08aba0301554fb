using Conclave.Api.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

public sealed class EventLogTests
{
    private static KeyValue Kv(string key, long modRevision) => new() { Key = ByteString.CopyFromUtf8(key), ModRevision = modRevision };

    private static Event Put(string key, long revision, KeyValue? prev = null) =>
        new() { Type = Event.Types.EventType.Put, Kv = Kv(key, revision), PrevKv = prev };

    [Fact]
    public void Revisions_with_one_or_many_events_read_back_in_order()
    {
        var log = new EventLog();
        log.Append(1, [Put("a", 1)]);
        log.Append(2, [Put("b", 2), Put("c", 2), Put("d", 2)]);
        log.Append(3, [Put("e", 3)]);

        var read = new List<RevisionEvents>();
        Assert.True(log.Read(1, 3, 100, read));

        var keys = read.SelectMany(r => Enumerable.Range(0, r.Count).Select(i => $"{r.Revision}:{r[i].Kv.Key.ToStringUtf8()}"));
        Assert.Equal(["1:a", "2:b", "2:c", "2:d", "3:e"], keys);
        Assert.Throws<ArgumentOutOfRangeException>(() => read[0][1]);
    }

    [Fact]
    public void Reads_stop_at_whole_revisions_near_the_event_limit()
    {
        var log = new EventLog();
        log.Append(1, [Put("a", 1)]);
        log.Append(2, [Put("b", 2), Put("c", 2)]);
        log.Append(3, [Put("d", 3)]);

        var read = new List<RevisionEvents>();
        Assert.True(log.Read(1, 3, maxEvents: 2, read));

        Assert.Equal([1L], read.Select(r => r.Revision)); // revision 2 would exceed the limit and is not split
    }

    [Fact]
    public void Compaction_drops_previous_values_from_before_it_in_single_and_multi_event_revisions()
    {
        var log = new EventLog();
        var old = Kv("a", 1);
        log.Append(1, [Put("a", 1)]);
        log.Append(2, [Put("x", 2)]);
        log.Append(3, [Put("a", 3, prev: old)]);
        log.Append(4, [Put("b", 4, prev: Kv("b", 2)), Put("c", 4, prev: Kv("c", 4))]);

        log.TruncateBefore(3);
        var read = new List<RevisionEvents>();
        Assert.False(log.Read(2, 4, 100, read)); // compacted
        Assert.True(log.Read(3, 4, 100, read));
        Assert.Null(read[0][0].PrevKv); // revision 3's previous value (revision 1) is below the compaction

        log.TruncateBefore(4);
        read.Clear();
        Assert.True(log.Read(4, 4, 100, read));
        Assert.Null(read[0][0].PrevKv); // from revision 2: gone
        Assert.NotNull(read[0][1].PrevKv); // from revision 4 itself: kept
    }
}

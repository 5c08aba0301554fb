using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// The event log keeps which keys each revision changed and makes the events from the keys' histories when read
/// (ADR 0017). These tests write through a real <see cref="Keyspace"/> and check what watchers read back, against the
/// events a plain model records at write time (what the log held before it made them on demand).
/// </summary>
public sealed class EventLogTests
{
    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    private static void Write(Keyspace space, params (string Key, string? Value)[] changes)
    {
        var batch = space.BeginWrite();
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                batch.Delete(B(key));
            }
            else
            {
                batch.Put(B(key), B(value), 0);
            }
        }

        batch.Commit();
    }

    private static List<RevisionEvents> Read(EventLog log, long from, long to, int max = 100)
    {
        var read = new List<RevisionEvents>();
        Assert.True(log.Read(from, to, max, read));
        return read;
    }

    [Fact]
    public void Revisions_with_one_or_many_events_read_back_in_order()
    {
        var space = new Keyspace();
        Write(space, ("a", "1"));
        Write(space, ("b", "2"), ("c", "2"), ("d", "2"));
        Write(space, ("e", "3"));

        var read = Read(space.Events, 2, 4);

        var keys = read.SelectMany(r => Enumerable.Range(0, r.Count).Select(i => $"{r.Revision}:{r[i].Kv.Key.ToStringUtf8()}"));
        Assert.Equal(["2:a", "3:b", "3:c", "3:d", "4:e"], keys);
        Assert.Throws<ArgumentOutOfRangeException>(() => read[0][1]);
    }

    [Fact]
    public void A_row_emptied_by_compaction_serves_a_new_key_and_the_events_after_it_name_the_right_keys()
    {
        // a is deleted and compacted away: its row is given back and b, the next new key, gets it. Events from the
        // compaction on, reads and a restore of the state see b where a was, and nothing of a.
        var space = new Keyspace();
        Write(space, ("a", "1"));                 // 2
        Write(space, ("keep", "1"));              // 3
        Write(space, ("a", null));                // 4
        Write(space, ("keep", "2"));              // 5
        var aRow = space.AllHistories.Single(h => h.Key.ToStringUtf8() == "a").Row;
        space.Compact(5);                         // after the tombstone at 4: a's history is emptied
        Assert.DoesNotContain(space.AllHistories, h => h.Key.ToStringUtf8() == "a");
        Assert.Equal(1, space.Rows.Count);

        Write(space, ("b", "3"));                 // 6
        var b = space.AllHistories.Single(h => h.Key.ToStringUtf8() == "b");
        Assert.Equal(aRow, b.Row);
        Assert.Equal(2, space.Rows.Count);
        Assert.Null(space.Get(B("a"), space.Revision));
        Assert.Equal("3", space.Get(B("b"), space.Revision)!.Value.ToStringUtf8());
        Assert.Equal(1, space.Get(B("b"), space.Revision)!.Version);

        static string[] Events(List<RevisionEvents> read) =>
            read.SelectMany(r => Enumerable.Range(0, r.Count).Select(i => $"{r.Revision}:{r[i].Type}:{r[i].Kv.Key.ToStringUtf8()}={r[i].Kv.Value.ToStringUtf8()}:{r[i].PrevKv?.Value.ToStringUtf8()}")).ToArray();
        // (An event at the compaction revision has lost its previous value with the history, as documented.)
        Assert.Equal(["5:Put:keep=2:", "6:Put:b=3:"], Events(Read(space.Events, 5, 6)));
        Assert.False(space.Events.Read(4, 6, 100, []));
    }

    [Fact]
    public void Revisions_of_several_changes_are_kept_aside_only_until_compaction_drops_them()
    {
        var space = new Keyspace();
        for (var i = 0; i < 100; i++)
        {
            Write(space, ($"x{i}", "1"), ($"y{i}", "1")); // revisions 2..101, two changes each
        }

        Write(space, ("z", "1")); // 102
        Assert.Equal(100, space.Events.SeveralCount);
        space.Compact(51);
        Assert.Equal(51, space.Events.SeveralCount); // 51..101 are kept
        Assert.Equal(["51:x49", "51:y49"], Read(space.Events, 51, 51).SelectMany(r => Enumerable.Range(0, r.Count).Select(i => $"{r.Revision}:{r[i].Kv.Key.ToStringUtf8()}")));
        space.Compact(102);
        Assert.Equal(0, space.Events.SeveralCount);
    }

    [Fact]
    public void Revisions_missing_from_a_restored_history_are_skipped_and_later_ones_keep_their_numbers()
    {
        // A restored state whose retained versions are at revisions 5, 6 and 9 (two changes): the log keeps a revision
        // by its place, so 7 and 8 are empty places, not shifted numbers.
        var rows = new HistoryRows();
        var a = rows.New(B("a"));
        a.Append(new KeyVersion(5, 0, 5, 1, 0, "5"u8.ToArray()));
        a.Append(new KeyVersion(9, 1, 5, 2, 0, "9"u8.ToArray()));
        var b = rows.New(B("b"));
        b.Append(new KeyVersion(6, 0, 6, 1, 0, "6"u8.ToArray()));
        b.Append(new KeyVersion(9, 0, 6, 2, 0, "9"u8.ToArray()));
        var space = new Keyspace();
        space.Restore(9, 5, rows, [a, b], new ValueArena());

        static string[] Events(List<RevisionEvents> read) =>
            read.SelectMany(r => Enumerable.Range(0, r.Count).Select(i => $"{r.Revision}:{r[i].Kv.Key.ToStringUtf8()}={r[i].Kv.Value.ToStringUtf8()}")).ToArray();

        Assert.Equal(["5:a=5", "6:b=6", "9:b=9", "9:a=9"], Events(Read(space.Events, 5, 9)));
        Assert.Empty(Read(space.Events, 7, 8));
        Assert.Equal(["9:b=9", "9:a=9"], Events(Read(space.Events, 7, 9)));
        Assert.Equal(["5:a=5"], Events(Read(space.Events, 5, 9, max: 1)));
        Assert.False(space.Events.Read(4, 9, 100, [])); // below the restored compaction

        Write(space, ("c", "10"));
        Assert.Equal(["9:b=9", "9:a=9", "10:c=10"], Events(Read(space.Events, 8, 10)));
        space.Compact(8);
        Assert.False(space.Events.Read(7, 10, 100, []));
        Assert.Equal(["9:b=9", "9:a=9", "10:c=10"], Events(Read(space.Events, 8, 10)));
    }

    [Fact]
    public void A_restored_history_claiming_a_vast_gap_of_revisions_is_refused_without_allocating_for_it()
    {
        // Two versions, at revisions 5 and 2^50: the log would need a place per revision between. The snapshot reader
        // refuses such an image first (SnapshotTests); the log holds the same bound for any other caller.
        var rows = new HistoryRows();
        var a = rows.New(B("a"));
        a.Append(new KeyVersion(5, 0, 5, 1, 0, "5"u8.ToArray()));
        a.Append(new KeyVersion(1L << 50, 0, 5, 2, 0, "x"u8.ToArray()));
        var space = new Keyspace();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var refused = Assert.Throws<AggregateException>(() => space.Restore(1L << 50, 5, rows, [a], new ValueArena()));
        Assert.Contains("missing", Assert.IsType<InvalidOperationException>(refused.InnerException).Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "the refusal allocated for the gap");
    }

    [Fact]
    public void A_long_history_reads_back_by_revision_across_segments_and_compactions()
    {
        // Enough revisions for several of the log's segments; compactions drop whole segments and parts of one.
        var space = new Keyspace();
        var revisions = 3 * SegmentedLog<object>.SegmentLength + 100;
        for (var i = 0; i < revisions; i++)
        {
            Write(space, ($"k{i % 50}", $"{i}"));
        }

        foreach (var compactAt in new long[] { 10, SegmentedLog<object>.SegmentLength + 2, (2 * SegmentedLog<object>.SegmentLength) + 1, space.Revision - 5 })
        {
            space.Compact(compactAt);
            Assert.False(space.Events.Read(compactAt - 1, space.Revision, 10, []));
            foreach (var from in new[] { compactAt, compactAt + 1, space.Revision - 1, space.Revision })
            {
                var read = Read(space.Events, from, space.Revision, max: 3);
                Assert.Equal(from, read[0].Revision);
                Assert.Equal($"{from - 2}", read[0][0].Kv.Value.ToStringUtf8()); // revision 2 wrote "0"
                Assert.Equal(Enumerable.Range(0, read.Count).Select(i => from + i), read.Select(r => r.Revision));
            }
        }
    }

    [Fact]
    public void Reads_stop_at_whole_revisions_near_the_event_limit()
    {
        var space = new Keyspace();
        Write(space, ("a", "1"));
        Write(space, ("b", "2"), ("c", "2"));
        Write(space, ("d", "3"));

        var read = Read(space.Events, 2, 4, max: 2);

        Assert.Equal([2L], read.Select(r => r.Revision)); // revision 3 would exceed the limit and is not split
    }

    [Fact]
    public void Compaction_drops_previous_values_from_before_it_in_single_and_multi_event_revisions()
    {
        var space = new Keyspace();
        Write(space, ("a", "1"));                   // 2
        Write(space, ("b", "1"));                   // 3
        Write(space, ("a", "2"));                   // 4: previous a@2
        Write(space, ("b", "2"), ("c", "1"), ("c", "2")); // 5: previous b@3; the second c's previous is c@(5,1)

        space.Compact(4);
        Assert.False(space.Events.Read(3, 5, 100, [])); // compacted
        var read = Read(space.Events, 4, 5);
        Assert.Null(read[0][0].PrevKv); // revision 4's previous value (revision 2) is below the compaction
        Assert.Equal("1", read[1][0].PrevKv.Value.ToStringUtf8()); // b@3 is what revision 4 saw: kept

        Assert.Equal("1", read[1][2].PrevKv.Value.ToStringUtf8()); // the second c's previous value is the first

        space.Compact(5);
        read = Read(space.Events, 5, 5);
        Assert.Null(read[0][0].PrevKv); // from revision 3: gone
        // c@(5,1) is not visible at the compaction revision, so compaction drops it, and its event with it, as etcd's
        // does; the second c keeps no previous value either (the client API refuses a key twice in one txn anyway).
        Assert.Equal(2, read[0].Count);
        Assert.Equal("2", read[0][1].Kv.Value.ToStringUtf8());
    }

    [Fact]
    public void Watchers_reading_a_new_revision_share_its_events()
    {
        var space = new Keyspace();
        Write(space, ("a", "1"));

        var first = Read(space.Events, 2, 2);
        var second = Read(space.Events, 2, 2);

        Assert.Same(first[0][0], second[0][0]);
    }

    /// <summary>
    /// Random puts, deletes, multi-key revisions and compactions; after each step a read from a random retained revision
    /// returns exactly the events the model recorded when the writes happened, with etcd's previous values.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Events_made_on_demand_match_the_events_recorded_at_write_time(int seed)
    {
        var random = new Random(seed);
        var space = new Keyspace();
        var model = new Model();
        for (var step = 0; step < 3_000; step++)
        {
            var roll = random.Next(20);
            if (roll == 0 && space.Revision > space.CompactRevision + 1)
            {
                var at = space.CompactRevision + 1 + random.NextInt64(space.Revision - space.CompactRevision);
                space.Compact(at);
                model.Compact(at);
            }
            else
            {
                var changes = Enumerable.Range(0, random.Next(4) == 0 ? random.Next(1, 5) : 1)
                    .Select(_ => ($"k{random.Next(12)}", random.Next(5) == 0 ? null : $"v{step}"))
                    .ToArray();
                Write(space, changes);
                model.Write(space.Revision, changes);
            }

            var from = Math.Max(space.Events.FirstRetainedRevision, 1) + random.NextInt64(Math.Max(1, space.Revision - space.Events.FirstRetainedRevision + 1));
            var read = Read(space.Events, from, space.Revision, max: int.MaxValue);
            var expected = model.Since(from);
            Assert.Equal(expected.Select(e => e.Revision), read.Select(r => r.Revision));
            for (var i = 0; i < read.Count; i++)
            {
                Assert.Equal(expected[i].Events, Enumerable.Range(0, read[i].Count).Select(j => read[i][j]));
            }
        }
    }

    /// <summary>Watch pumps read while the apply thread writes and compacts: every read is whole and in order, no exceptions.</summary>
    [Fact]
    public async Task Concurrent_reads_during_writes_and_compactions_see_consistent_events()
    {
        var space = new Keyspace();
        var gate = new object();
        var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var read = new List<RevisionEvents>();
            long next = 1;
            while (!stop.IsCancellationRequested)
            {
                read.Clear();
                long upTo;
                lock (gate)
                {
                    upTo = space.Revision;
                }

                if (!space.Events.Read(next, upTo, 500, read))
                {
                    next = space.Events.FirstRetainedRevision;
                    continue;
                }

                foreach (var revision in read)
                {
                    Assert.True(revision.Revision >= next);
                    for (var i = 0; i < revision.Count; i++)
                    {
                        var e = revision[i];
                        Assert.Equal(revision.Revision, e.Kv.ModRevision);
                        Assert.True(e.PrevKv is null || e.PrevKv.ModRevision <= revision.Revision);
                    }

                    next = revision.Revision + 1;
                }
            }
        })).ToArray();

        var random = new Random(7);
        var step = 0;
        while (!stop.IsCancellationRequested)
        {
            lock (gate)
            {
                if (++step % 500 == 0)
                {
                    space.Compact(space.Revision - 100);
                }
                else
                {
                    Write(space, ($"k{random.Next(50)}", random.Next(6) == 0 ? null : $"v{step}"), ($"j{random.Next(50)}", $"w{step}"));
                }
            }
        }

        await Task.WhenAll(readers);
        Assert.True(step > 1_000, $"only {step} writes in 3 s");
    }

    /// <summary>The events the log held before they were made on demand: recorded at write time, trimmed by compaction.</summary>
    private sealed class Model
    {
        private readonly Dictionary<string, KeyValue> live = [];
        private readonly List<(long Revision, List<Event> Events)> revisions = [];

        public void Write(long revision, (string Key, string? Value)[] changes)
        {
            var events = new List<Event>();
            foreach (var (key, value) in changes)
            {
                live.TryGetValue(key, out var previous);
                if (value is null)
                {
                    if (previous is null)
                    {
                        continue;
                    }

                    live.Remove(key);
                    events.Add(new Event { Type = Event.Types.EventType.Delete, Kv = new KeyValue { Key = B(key), ModRevision = revision }, PrevKv = previous });
                }
                else
                {
                    var kv = new KeyValue
                    {
                        Key = B(key), Value = B(value), ModRevision = revision,
                        CreateRevision = previous?.CreateRevision ?? revision, Version = (previous?.Version ?? 0) + 1,
                    };
                    live[key] = kv;
                    events.Add(new Event { Type = Event.Types.EventType.Put, Kv = kv, PrevKv = previous });
                }
            }

            if (events.Count > 0)
            {
                revisions.Add((revision, events));
            }
        }

        public void Compact(long revision)
        {
            revisions.RemoveAll(r => r.Revision < revision);
            foreach (var (at, events) in revisions.Where(r => r.Revision == revision))
            {
                // A key changed twice at the compaction revision keeps only its last change (the version visible there).
                for (var i = events.Count - 1; i >= 0; i--)
                {
                    if (events.Skip(i + 1).Any(later => later.Kv.Key == events[i].Kv.Key))
                    {
                        events.RemoveAt(i);
                    }
                }

                // Previous values from before the compaction revision are gone, and so is an earlier change at it (just removed).
                for (var i = 0; i < events.Count; i++)
                {
                    if (events[i].PrevKv is { } prev && prev.ModRevision <= revision)
                    {
                        events[i] = new Event { Type = events[i].Type, Kv = events[i].Kv };
                    }
                }
            }
        }

        public List<(long Revision, List<Event> Events)> Since(long revision) => revisions.Where(r => r.Revision >= revision).ToList();
    }
}

using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Api.Raft;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// The MVCC keyspace with etcd's semantics: one revision that every write transaction bumps once,
/// per-key create/mod revision and version, reads at past revisions, compaction. Not thread-safe: the owner
/// (<see cref="KeyValueStore"/>) serialises writers and readers. The store has two, each with its own revisions and
/// history: the user keyspace and the system keyspace (ADR 0012).
/// </summary>
public sealed class Keyspace
{
    // The histories, one row each (ADR 0017): the index and the event log name them by row.
    private HistoryRows rows;

    // One ordered index is the lookup, the order and what a snapshot capture freezes: a lookup is a binary search of
    // sorted blocks (about 20 comparisons of short keys at a million keys), which costs less than a hash map's 30-40
    // bytes per key and its resize spikes, and less than a balanced tree's node per key (ADR 0017).
    private KeyIndex ordered;

    public Keyspace(KeyspaceKind kind = KeyspaceKind.User)
    {
        Kind = kind;
        rows = new HistoryRows();
        ordered = new KeyIndex(rows);
        Events = new EventLog(rows);
    }

    // The values of every retained version, packed into chunks (ADR 0017).
    private ValueArena values = new();

    /// <summary>Where the values are kept (for metrics and tests).</summary>
    public ValueArena Values => values;

    /// <summary>Which of the store's keyspaces this is (leases record their keys per keyspace).</summary>
    public KeyspaceKind Kind { get; }

    /// <summary>The newest revision; a fresh store is at revision 1, as etcd's is.</summary>
    public long Revision { get; private set; } = 1;

    /// <summary>The revision of the last compaction (0 when never compacted).</summary>
    public long CompactRevision { get; private set; }

    /// <summary>Bytes of retained history, charged against the space quota.</summary>
    public long SizeBytes { get; private set; }

    /// <summary>Bytes of this keyspace's keys section in a snapshot image taken now (<see cref="SnapshotSizes"/>).</summary>
    internal long SnapshotKeysBytes { get; private set; } = SnapshotSizes.Header;

    /// <summary>Number of keys with at least one retained version.</summary>
    public int KeyCount => ordered.Count;

    public EventLog Events { get; }

    internal IEnumerable<KeyHistory> AllHistories => ordered.All();

    /// <summary>The rows the histories are kept in (for tests).</summary>
    internal HistoryRows Rows => rows;

    // ---- reads ---------------------------------------------------------------------------------------------

    /// <summary>Checks that <paramref name="revision"/> (0 = newest) can be read.</summary>
    public long ResolveReadRevision(long revision)
    {
        if (revision <= 0)
        {
            return Revision;
        }

        if (revision > Revision)
        {
            throw new ConclaveErrorException(ErrorCode.FutureRevision, $"revision {revision} is newer than the store's revision {Revision}");
        }

        if (revision < CompactRevision)
        {
            throw new ConclaveErrorException(ErrorCode.Compacted, $"revision {revision} was compacted (compact revision {CompactRevision})");
        }

        return revision;
    }

    public KeyValue? Get(ByteString key, long revision) => Find(key)?.At(revision);

    /// <summary>The live version of <paramref name="key"/> at <paramref name="revision"/>, without making a <see cref="KeyValue"/>.</summary>
    internal bool TryGetVersion(ByteString key, long revision, out KeyVersion version)
    {
        if (Find(key) is { } history)
        {
            return history.TryGetAt(revision, out version);
        }

        version = default;
        return false;
    }

    private KeyHistory? Find(ByteString key) => ordered.Find(key.Span);

    /// <summary>Every retained version of <paramref name="key"/>, oldest first, deletions as tombstones (a copy).</summary>
    public IReadOnlyList<KeyVersion> VersionsOf(ByteString key) => Find(key) is { } h ? h.Versions.ToArray() : [];

    /// <summary>A visitor of the versions a scan finds: the key's history and its live version; false stops the scan.</summary>
    internal delegate bool VersionVisitor(KeyHistory history, in KeyVersion version);

    /// <summary>Visits the live values in [key, end) at <paramref name="revision"/>, in key order.</summary>
    public void Scan(ByteString key, ByteString end, long revision, Func<KeyValue, bool> visit) =>
        ScanVersions(key, end, revision, (KeyHistory h, in KeyVersion v) => visit(v.ToKeyValue(h.Key)!));

    /// <summary>Visits the live versions in [key, end) at <paramref name="revision"/>, in key order, making no objects.</summary>
    internal void ScanVersions(ByteString key, ByteString end, long revision, VersionVisitor visit)
    {
        if (end.IsEmpty)
        {
            if (Find(key) is { } single && single.TryGetAt(revision, out var version))
            {
                visit(single, version);
            }

            return;
        }

        if (ordered.Count == 0)
        {
            return;
        }

        var openEnd = KeyOrder.IsOpenEnd(end);
        if (!openEnd && KeyOrder.Compare(key, end) >= 0)
        {
            return;
        }

        foreach (var h in ordered.From(key))
        {
            if (!openEnd && h.KeySpan.SequenceCompareTo(end.Span) >= 0)
            {
                break;
            }

            if (h.TryGetAt(revision, out var version) && !visit(h, version))
            {
                return;
            }
        }
    }

    public RangeResponse Range(RangeRequest r) => Range(r, ResolveReadRevision(r.Revision));

    internal RangeResponse Range(RangeRequest r, long revision)
    {
        var response = new RangeResponse { Header = new ResponseHeader { Revision = Revision } };
        var filtered = r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0;
        var sortOrder = r.SortOrder;
        if (sortOrder == RangeRequest.Types.SortOrder.None && r.SortTarget != RangeRequest.Types.SortTarget.Key)
        {
            sortOrder = RangeRequest.Types.SortOrder.Ascend; // etcd's default when only a target is given
        }

        var needsAll = filtered || (sortOrder != RangeRequest.Types.SortOrder.None && !(sortOrder == RangeRequest.Types.SortOrder.Ascend && r.SortTarget == RangeRequest.Types.SortTarget.Key));
        var sortsByValue = needsAll && r.SortTarget == RangeRequest.Types.SortTarget.Value;
        var limit = r.Limit;
        var collected = new List<KeyValue>();
        long count = 0;
        ScanVersions(r.Key, r.RangeEnd, revision, (KeyHistory h, in KeyVersion v) =>
        {
            count++;
            if (r.CountOnly)
            {
                return true;
            }

            if (filtered && !PassesFilters(r, v))
            {
                return true;
            }

            if (needsAll || limit <= 0 || collected.Count <= limit)
            {
                // Keys only: without the value, unless the values are still to be sorted by (then dropped below).
                collected.Add(r.KeysOnly && !sortsByValue
                    ? new KeyValue { Key = h.Key, CreateRevision = v.CreateRevision, ModRevision = v.Main, Version = v.Version, Lease = v.Lease }
                    : v.ToKeyValue(h.Key)!);
            }

            return true;
        });

        response.Count = count;
        if (r.CountOnly)
        {
            return response;
        }

        if (needsAll)
        {
            Sort(collected, sortOrder, r.SortTarget);
        }

        if (limit > 0 && collected.Count > limit)
        {
            collected.RemoveRange((int)limit, collected.Count - (int)limit);
            response.More = true;
        }
        else if (limit > 0 && !filtered && count > limit)
        {
            response.More = true;
        }

        if (r.KeysOnly && sortsByValue)
        {
            foreach (var kv in collected)
            {
                kv.Value = ByteString.Empty;
            }
        }

        response.Kvs.AddRange(collected);
        return response;
    }

    private static bool PassesFilters(RangeRequest r, in KeyVersion kv) =>
        (r.MinModRevision == 0 || kv.Main >= r.MinModRevision)
        && (r.MaxModRevision == 0 || kv.Main <= r.MaxModRevision)
        && (r.MinCreateRevision == 0 || kv.CreateRevision >= r.MinCreateRevision)
        && (r.MaxCreateRevision == 0 || kv.CreateRevision <= r.MaxCreateRevision);

    private static void Sort(List<KeyValue> kvs, RangeRequest.Types.SortOrder order, RangeRequest.Types.SortTarget target)
    {
        if (order == RangeRequest.Types.SortOrder.None)
        {
            return;
        }

        Comparison<KeyValue> compare = target switch
        {
            RangeRequest.Types.SortTarget.Version => (a, b) => a.Version.CompareTo(b.Version),
            RangeRequest.Types.SortTarget.Create => (a, b) => a.CreateRevision.CompareTo(b.CreateRevision),
            RangeRequest.Types.SortTarget.Mod => (a, b) => a.ModRevision.CompareTo(b.ModRevision),
            RangeRequest.Types.SortTarget.Value => (a, b) => a.Value.Span.SequenceCompareTo(b.Value.Span),
            _ => (a, b) => KeyOrder.Compare(a.Key, b.Key),
        };

        // Stable, so ties keep key order as etcd's does.
        var indexed = kvs.Select((kv, i) => (kv, i)).ToList();
        indexed.Sort((x, y) =>
        {
            var c = compare(x.kv, y.kv);
            if (order == RangeRequest.Types.SortOrder.Descend)
            {
                c = -c;
            }

            return c != 0 ? c : x.i.CompareTo(y.i);
        });
        for (var i = 0; i < kvs.Count; i++)
        {
            kvs[i] = indexed[i].kv;
        }
    }

    // ---- writes --------------------------------------------------------------------------------------------

    /// <summary>Starts a write transaction: every change made through it shares one new revision.</summary>
    public WriteBatch BeginWrite() => new(this);

    /// <summary>
    /// A put copies the value into the arena, and a new key's bytes with it: no array per value or key, whose 24-byte
    /// headers were 5% of a million 1 KiB values with their keys (ADR 0017). The parsed command's arrays die young.
    /// </summary>
    internal void Put(WriteBatch batch, ByteString key, ByteString value, long lease) => Put(batch, key, values.Store(value.Span, lease), lease);

    /// <summary>
    /// A put that keeps <paramref name="existing"/>'s value (etcd's ignore_value): the bytes are shared, not copied, when
    /// the lease stays the same (it is stored with them).
    /// </summary>
    internal void PutKeepingValue(WriteBatch batch, ByteString key, in KeyVersion existing, long lease)
    {
        if (lease != existing.Lease)
        {
            Put(batch, key, values.Store(existing.ValueSpan, lease), lease);
            return;
        }

        var value = existing.Stored;
        values.Share(value);
        Put(batch, key, value, lease);
    }

    private void Put(WriteBatch batch, ByteString key, StoredValue value, long lease)
    {
        if (Find(key) is not { } history)
        {
            history = rows.New(values.Store(key.Span));
            ordered.Add(history);
            SnapshotKeysBytes += SnapshotSizes.Key(key.Length);
        }

        var revision = batch.Revision;
        var live = history.TryGetLatest(out var previous);
        var version = new KeyVersion(revision, batch.NextSub(), live ? previous.CreateRevision : revision, (live ? previous.Version : 0) + 1, lease, value);
        history.Append(version);
        SizeBytes += version.Cost(key.Length);
        SnapshotKeysBytes += SnapshotSizes.Version(version);
        batch.Record(history);
    }

    internal KeyValue? Delete(WriteBatch batch, ByteString key)
    {
        if (Find(key) is not { } history || !history.TryGetLatest(out var previous))
        {
            return null;
        }

        var version = KeyVersion.Tombstone(batch.Revision, batch.NextSub());
        history.Append(version);
        SizeBytes += version.Cost(key.Length);
        SnapshotKeysBytes += SnapshotSizes.Version(version);
        batch.Record(history);
        return previous.ToKeyValue(history.Key);
    }

    internal void Commit(WriteBatch batch)
    {
        if (batch.Changed)
        {
            Revision = batch.Revision;
            Events.Append(batch.Revision, batch.TakeChanges());
        }
    }

    /// <summary>Drops history below <paramref name="revision"/>; reads and watches below it fail afterwards.</summary>
    public void Compact(long revision)
    {
        if (revision <= CompactRevision)
        {
            throw new ConclaveErrorException(ErrorCode.Compacted, $"revision {revision} is at or below the last compaction ({CompactRevision})");
        }

        if (revision > Revision)
        {
            throw new ConclaveErrorException(ErrorCode.FutureRevision, $"cannot compact at {revision}: the store is at revision {Revision}");
        }

        CompactRevision = revision;

        // Watchers make events from the histories (EventLog.Read): the event log's lock keeps them out while histories change.
        Events.TruncateBefore(revision, () =>
        {
            List<int>? emptied = null;
            foreach (var history in ordered.All())
            {
                var (freed, freedSnapshotBytes) = history.Compact(revision, values);
                SizeBytes -= freed;
                SnapshotKeysBytes -= freedSnapshotBytes;
                if (history.Count == 0)
                {
                    (emptied ??= []).Add(history.Row);
                    SnapshotKeysBytes -= SnapshotSizes.Key(history.KeyLength);
                    values.Release(history.KeyStored);
                }
            }

            if (emptied is not null)
            {
                // Out of the index first; the event log's revisions that named them are dropped with this compaction.
                ordered.RemoveWhere(static h => h.Count == 0);
                foreach (var row in emptied)
                {
                    rows.Free(row);
                }
            }

            // Chunks that compaction left mostly empty: their live values move to the newest chunk, in this same pass
            // over the histories' exclusion (writers of snapshots wait for compactions, readers of events for this lock).
            if (values.WantsReclaim)
            {
                values.Reclaim(move =>
                {
                    foreach (var history in ordered.All())
                    {
                        move(history);
                    }
                });
            }
        });
    }

    // ---- snapshot support ----------------------------------------------------------------------------------

    /// <summary>
    /// The keyspace as of now, for a snapshot written later while writes go on: no pass over the keys, a list of the
    /// index's blocks (copied before they change from now on). Call under the owner's lock, as every read.
    /// </summary>
    internal FrozenKeyspace Freeze() => new(ordered.Freeze(), Revision);

    /// <summary>
    /// Replaces the keyspace with <paramref name="histories"/> (in key order, as a snapshot holds them). The ordered set
    /// is built from the sorted list in one pass and the event history in a parallel task, from one flat array sorted
    /// by revision: no per-key insertions into a balanced tree and no per-revision lists (ADR 0017).
    /// </summary>
    internal void Restore(long revision, long compactRevision, HistoryRows restoredRows, List<KeyHistory> histories, ValueArena restoredValues)
    {
        long size = 0, snapshotBytes = SnapshotSizes.Header;
        KeyIndex? index = null;
        Parallel.Invoke(
            () => RestoreEvents(compactRevision, restoredRows, histories),
            () =>
            {
                foreach (var h in histories)
                {
                    snapshotBytes += SnapshotSizes.Key(h.KeyLength);
                    foreach (ref readonly var v in h.Versions)
                    {
                        size += v.Cost(h.KeyLength);
                        snapshotBytes += SnapshotSizes.Version(v);
                    }
                }

                for (var i = 1; i < histories.Count; i++)
                {
                    if (histories[i - 1].KeySpan.SequenceCompareTo(histories[i].KeySpan) >= 0)
                    {
                        throw new InvalidOperationException($"restored key {i} is not after the one before it (the snapshot reader checks their order)");
                    }
                }

                index = KeyIndex.FromSorted(restoredRows, histories);
            });

        rows = restoredRows;
        ordered = index!;
        values = restoredValues; // the old one's chunks go when nothing refers to them
        SizeBytes = size;
        SnapshotKeysBytes = snapshotBytes;
        Revision = revision;
        CompactRevision = compactRevision;
    }

    private void RestoreEvents(long compactRevision, HistoryRows restoredRows, List<KeyHistory> histories)
    {
        var retained = 0;
        foreach (var h in histories)
        {
            foreach (ref readonly var v in h.Versions)
            {
                retained += v.Main >= compactRevision ? 1 : 0;
            }
        }

        var at = new (long Main, int Sub)[retained];
        var changed = new int[retained];
        var n = 0;
        foreach (var h in histories)
        {
            foreach (ref readonly var v in h.Versions)
            {
                if (v.Main >= compactRevision)
                {
                    at[n] = (v.Main, v.Sub);
                    changed[n++] = h.Row;
                }
            }
        }

        Array.Sort(at, changed);
        Events.Clear(Math.Max(1, compactRevision), restoredRows);
        for (var i = 0; i < n;)
        {
            var end = i + 1;
            while (end < n && at[end].Main == at[i].Main)
            {
                end++;
            }

            // Most revisions are one change at sub-revision 0: no array for those (a restore appends a million of them).
            if (end - i == 1 && at[i].Sub == 0)
            {
                Events.Append(at[i].Main, changed[i]);
            }
            else
            {
                var changes = new EventLog.Change[end - i];
                for (var j = i; j < end; j++)
                {
                    changes[j - i] = new EventLog.Change(changed[j], at[j].Sub);
                }

                Events.Append(at[i].Main, changes);
            }
            i = end;
        }
    }
}

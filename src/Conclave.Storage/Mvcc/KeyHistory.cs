using System.Runtime.InteropServices;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// One key's history as a keyspace keeps it: a row of <see cref="HistoryRows"/> (64 bytes, no object of its own).
/// Most keys have one retained version (a configuration store is mostly read, and compaction drops the rest), so a
/// single version is kept in the row; an array holds them only while there are more.
/// </summary>
internal struct HistoryRow
{
    public KeyVersion Single;       // the only version while Versions is null and Count is 1
    public object KeyStorage;       // the key's bytes: in the keyspace's arena (ADR 0017) or an array of its own
    public KeyVersion[]? Versions;  // oldest first, the first Count used, while there are (or were) more than one
    public int KeyLocation;
    public int Count;
}

/// <summary>
/// A keyspace's histories as rows in segments of a fixed size, addressed by a row number that the key index and the
/// event log keep instead of a reference (ADR 0017, twenty-eighth session): no object, no header and no reference per
/// key, and nothing per key for the collector to mark. Segments never move once made, so a reader on another thread
/// (a snapshot writer, a watcher making events) reads a row while the apply thread appends to others, as it read a
/// history object before. Rows of histories that compaction empties are reused for new keys afterwards: compaction
/// excludes snapshot writers and holds the event log's lock, and the index and the event log no longer refer to them.
/// Not thread-safe for writers: the keyspace's owner serialises them.
/// </summary>
internal sealed class HistoryRows
{
    private const int SegmentShift = 12; // 4,096 rows of 64 bytes: 256 KiB a segment
    private const int SegmentMask = (1 << SegmentShift) - 1;

    private HistoryRow[][] segments = [];
    private int end;                             // rows handed out so far, free or not
    private readonly Stack<int> free = new();    // rows compaction emptied, reused first

    /// <summary>Rows in use.</summary>
    public int Count => end - free.Count;

    internal ref HistoryRow this[int row] => ref Volatile.Read(ref segments)[row >> SegmentShift][row & SegmentMask];

    /// <summary>A new history of the key kept at <paramref name="key"/> (a keyspace's arena accounts it as a live value).</summary>
    internal KeyHistory New(StoredValue key)
    {
        int row;
        if (!free.TryPop(out row))
        {
            row = end;
            if ((row >> SegmentShift) == segments.Length)
            {
                var grown = new HistoryRow[segments.Length + 1][];
                Array.Copy(segments, grown, segments.Length);
                grown[^1] = new HistoryRow[1 << SegmentShift];
                Volatile.Write(ref segments, grown);
            }

            end++;
        }

        ref var r = ref this[row];
        r.KeyStorage = key.Storage;
        r.KeyLocation = key.Location;
        return new KeyHistory(this, row);
    }

    /// <summary>A new history of <paramref name="key"/>: its array is kept when it wraps a whole one, otherwise a copy.</summary>
    public KeyHistory New(ByteString key) => New(StoredValue.Own(StoredValue.OwnArrayOf(key)));

    /// <summary>Gives back the row of an emptied history that nothing refers to any more (compaction, under its exclusion).</summary>
    internal void Free(int row)
    {
        this[row] = default;
        free.Push(row);
    }
}

/// <summary>
/// Every retained revision of one key, oldest first: a view of its row in its keyspace's <see cref="HistoryRows"/>
/// (a keyspace hands these out; they are as valid as the row, which compaction may give to another key once this one's
/// history is empty).
/// </summary>
public readonly struct KeyHistory : IEquatable<KeyHistory>
{
    private readonly HistoryRows rows;
    private readonly int row;

    internal KeyHistory(HistoryRows rows, int row)
    {
        this.rows = rows;
        this.row = row;
    }

    /// <summary>A history of its own, outside any keyspace (tests and tools): one row in a table of its own.</summary>
    public KeyHistory(ByteString key)
        : this(new HistoryRows().New(key).rows, 0)
    {
    }

    internal HistoryRows Rows => rows;

    internal int Row => row;

    private ref HistoryRow R => ref rows[row];

    /// <summary>Where the key's bytes are kept, to release them to the arena when the history is dropped.</summary>
    internal StoredValue KeyStored
    {
        get
        {
            ref var r = ref R;
            return StoredValue.At(r.KeyStorage, r.KeyLocation);
        }
    }

    /// <summary>The key as a <see cref="ByteString"/> over the kept bytes (made on each call, no copy).</summary>
    public ByteString Key => KeyLength == 0 ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(KeyStored.Memory);

    /// <summary>The key's bytes, for comparisons and sizes without making a <see cref="ByteString"/>.</summary>
    public ReadOnlySpan<byte> KeySpan => KeyStored.Span;

    /// <summary>The key's length in bytes.</summary>
    public int KeyLength
    {
        get
        {
            ref var r = ref R;
            return StoredValue.LengthAt(r.KeyStorage, r.KeyLocation);
        }
    }

    /// <summary>The retained versions, oldest first (valid until the next change of this history).</summary>
    public ReadOnlySpan<KeyVersion> Versions => FrozenVersions(R.Count);

    public int Count => R.Count;

    /// <summary>The live value at the newest revision, or null when the key is deleted (made on each call).</summary>
    public KeyValue? Latest => Count == 0 ? null : Versions[Count - 1].ToKeyValue(Key);

    public bool Equals(KeyHistory other) => ReferenceEquals(rows, other.rows) && row == other.row;

    public override bool Equals(object? obj) => obj is KeyHistory other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(rows, row);

    public static bool operator ==(KeyHistory left, KeyHistory right) => left.Equals(right);

    public static bool operator !=(KeyHistory left, KeyHistory right) => !left.Equals(right);

    /// <summary>The newest version when it is a live value (not a tombstone).</summary>
    public bool TryGetLatest(out KeyVersion version)
    {
        var all = Versions;
        if (all.Length > 0 && !all[^1].IsTombstone)
        {
            version = all[^1];
            return true;
        }

        version = default;
        return false;
    }

    public void Append(KeyVersion version)
    {
        ref var r = ref R;
        if (r.Count == 0 && r.Versions is null)
        {
            r.Single = version;
        }
        else
        {
            if (r.Versions is null)
            {
                // The inline version stays where it is as well: a snapshot being written concurrently (FrozenVersions)
                // may still read it there. Compaction, which never runs during one, clears it.
                var grown = new KeyVersion[4];
                grown[0] = r.Single;
                grown[1] = version;
                Volatile.Write(ref r.Versions, grown);
            }
            else if (r.Count == r.Versions.Length)
            {
                // A new array: one being read by a snapshot writer keeps its first count versions as they were.
                var grown = new KeyVersion[r.Count * 2];
                Array.Copy(r.Versions, grown, r.Count);
                grown[r.Count] = version;
                Volatile.Write(ref r.Versions, grown);
            }
            else
            {
                r.Versions[r.Count] = version;
            }
        }

        // Published after the version itself: a snapshot writer reading the count concurrently sees versions that are there.
        Volatile.Write(ref r.Count, r.Count + 1);
    }

    /// <summary>
    /// How many versions are at or before <paramref name="revision"/>, for a snapshot writer on another thread while
    /// versions are appended (after it: they only ever have newer revisions); compaction waits for the writer.
    /// </summary>
    internal int CountAtOrBefore(long revision)
    {
        ref var r = ref R;
        var n = Volatile.Read(ref r.Count);
        var all = FrozenVersions(n);
        while (n > 0 && all[n - 1].Main > revision)
        {
            n--;
        }

        return n;
    }

    /// <summary>
    /// The first <paramref name="frozenCount"/> versions, read by a snapshot writer on another thread while writes go on:
    /// appends only add after them (a full array is replaced, never changed), and compaction waits for the writer.
    /// </summary>
    internal ReadOnlySpan<KeyVersion> FrozenVersions(int frozenCount)
    {
        ref var r = ref R;
        return Volatile.Read(ref r.Versions) is { } many
            ? many.AsSpan(0, frozenCount)
            : frozenCount == 0 ? [] : MemoryMarshal.CreateReadOnlySpan(ref r.Single, 1);
    }

    /// <summary>The value visible at <paramref name="revision"/>, or null when absent then (made on each call).</summary>
    public KeyValue? At(long revision) => TryGetAt(revision, out var version) ? version.ToKeyValue(Key) : null;

    /// <summary>The version visible at <paramref name="revision"/> when it is a live value.</summary>
    public bool TryGetAt(long revision, out KeyVersion version)
    {
        var all = Versions;
        var i = IndexAtOrBefore(all, revision);
        if (i >= 0 && !all[i].IsTombstone)
        {
            version = all[i];
            return true;
        }

        version = default;
        return false;
    }

    /// <summary>
    /// The watch event of this key's write at (<paramref name="main"/>, <paramref name="sub"/>), made from its version and
    /// the one before it, for the event log on a watcher's thread: appends only add after the versions read, and
    /// compaction holds the event log's lock while it changes histories. Null when the version is not retained.
    /// </summary>
    internal Event? EventAt(long main, int sub)
    {
        ref var r = ref R;
        var all = FrozenVersions(Volatile.Read(ref r.Count));
        for (var i = all.Length - 1; i >= 0; i--)
        {
            if (all[i].Main == main && all[i].Sub == sub)
            {
                var previous = i > 0 ? all[i - 1].ToKeyValue(Key) : null;
                return all[i].IsTombstone
                    ? new Event { Type = Event.Types.EventType.Delete, Kv = new KeyValue { Key = Key, ModRevision = main }, PrevKv = previous }
                    : new Event { Type = Event.Types.EventType.Put, Kv = all[i].ToKeyValue(Key), PrevKv = previous };
            }

            if (all[i].Main < main)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>
    /// Drops what no read at or after <paramref name="compactRevision"/> can see; returns the bytes freed, as the
    /// quota counts them and in a snapshot image. Keeps the version visible at the compact revision unless it is a tombstone.
    /// The dropped versions' values are released to <paramref name="arena"/> (the keyspace's, when it keeps them there).
    /// </summary>
    public (long Cost, long SnapshotBytes) Compact(long compactRevision, ValueArena? arena = null)
    {
        var all = Versions;
        var keep = IndexAtOrBefore(all, compactRevision);
        if (keep < 0)
        {
            return (0, 0);
        }

        var drop = keep;
        if (all[keep].IsTombstone && all[keep].Main < compactRevision)
        {
            drop = keep + 1;
        }

        if (drop == 0)
        {
            return (0, 0);
        }

        long freed = 0, snapshotBytes = 0;
        for (var i = 0; i < drop; i++)
        {
            freed += all[i].Cost(KeyLength);
            snapshotBytes += SnapshotSizes.Version(all[i]);
            if (!all[i].IsTombstone)
            {
                arena?.Release(all[i].Stored);
            }
        }

        ref var r = ref R;
        var left = r.Count - drop;
        if (r.Versions is null)
        {
            r.Single = default; // drop == count == 1
        }
        else if (left == 1)
        {
            // Back to one version: inline again, and the array goes.
            r.Single = r.Versions[r.Count - 1];
            r.Versions = null;
        }
        else if (left == 0)
        {
            r.Versions = null;
        }
        else
        {
            r.Single = default; // left over from the time it was the only version
            Array.Copy(r.Versions, drop, r.Versions, 0, left);
            Array.Clear(r.Versions, left, r.Count - left);
            if (r.Versions.Length > 8 && left <= r.Versions.Length / 4)
            {
                Array.Resize(ref r.Versions, Math.Max(4, left * 2));
            }
        }

        r.Count = left;
        return (freed, snapshotBytes);
    }

    /// <summary>
    /// Moves the key and the values of this history's versions that sit in chunks <paramref name="arena"/> is emptying (in place:
    /// the caller excludes snapshot writers and readers of histories, as for <see cref="Compact"/>).
    /// </summary>
    internal void MoveValues(ValueArena arena)
    {
        ref var r = ref R;
        if (ValueArena.MustMove(KeyStored))
        {
            var moved = arena.Move(KeyStored);
            r.KeyStorage = moved.Storage;
            r.KeyLocation = moved.Location;
        }

        if (r.Versions is null)
        {
            if (r.Count == 1 && !r.Single.IsTombstone && ValueArena.MustMove(r.Single.Stored))
            {
                r.Single = r.Single.WithValue(arena.Move(r.Single.Stored));
            }

            return;
        }

        r.Single = default; // left over from the time it was the only version: no reader needs it now
        for (var i = 0; i < r.Count; i++)
        {
            if (!r.Versions[i].IsTombstone && ValueArena.MustMove(r.Versions[i].Stored))
            {
                r.Versions[i] = r.Versions[i].WithValue(arena.Move(r.Versions[i].Stored));
            }
        }
    }

    private static int IndexAtOrBefore(ReadOnlySpan<KeyVersion> all, long revision)
    {
        // Histories are short and reads are usually of the newest version: scan from the end.
        for (var i = all.Length - 1; i >= 0; i--)
        {
            if (all[i].Main <= revision)
            {
                return i;
            }
        }

        return -1;
    }
}

using System.Runtime.InteropServices;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// Every retained revision of one key, oldest first. Most keys have one retained version (a configuration store is
/// mostly read, and compaction drops the rest), so a single version is kept in the object itself; an array holds them
/// only while there are more (56 bytes less per key than a list around an array).
/// </summary>
public sealed class KeyHistory
{
    private KeyVersion single;      // the only version while versions is null and count is 1
    private KeyVersion[]? versions; // oldest first, the first count used, while there are (or were) more than one
    private int count;

    // The key's bytes: in its keyspace's arena (no array and no ByteString object per key, ADR 0017) or an array of its
    // own. The bytes never change; only a reclaim pass moves them, while readers of histories are excluded.
    private object keyStorage;
    private int keyLocation;

    /// <summary>A history of <paramref name="key"/>: its array is kept when it wraps a whole one (a parsed command's key is a fresh array of its own), otherwise a copy.</summary>
    public KeyHistory(ByteString key)
        : this(StoredValue.Own(StoredValue.OwnArrayOf(key)))
    {
    }

    /// <summary>A history of the key kept at <paramref name="key"/> (a keyspace's arena accounts it as a live value).</summary>
    internal KeyHistory(StoredValue key)
    {
        keyStorage = key.Storage;
        keyLocation = key.Location;
    }

    /// <summary>Where the key's bytes are kept, to release them to the arena when the history is dropped.</summary>
    internal StoredValue KeyStored => StoredValue.At(keyStorage, keyLocation);

    /// <summary>The key as a <see cref="ByteString"/> over the kept bytes (made on each call, no copy).</summary>
    public ByteString Key => KeyLength == 0 ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(KeyStored.Memory);

    /// <summary>The key's bytes, for comparisons and sizes without making a <see cref="ByteString"/>.</summary>
    public ReadOnlySpan<byte> KeySpan => KeyStored.Span;

    /// <summary>The key's length in bytes.</summary>
    public int KeyLength => StoredValue.LengthAt(keyStorage, keyLocation);

    /// <summary>The retained versions, oldest first (valid until the next change of this history).</summary>
    public ReadOnlySpan<KeyVersion> Versions => FrozenVersions(count);

    public int Count => count;

    /// <summary>The live value at the newest revision, or null when the key is deleted (made on each call).</summary>
    public KeyValue? Latest => count == 0 ? null : Versions[count - 1].ToKeyValue(Key);

    /// <summary>The newest version when it is a live value (not a tombstone).</summary>
    public bool TryGetLatest(out KeyVersion version)
    {
        if (count > 0 && !Versions[count - 1].IsTombstone)
        {
            version = Versions[count - 1];
            return true;
        }

        version = default;
        return false;
    }

    public void Append(KeyVersion version)
    {
        if (count == 0 && versions is null)
        {
            single = version;
        }
        else
        {
            if (versions is null)
            {
                // The inline version stays where it is as well: a snapshot being written concurrently (FrozenVersions)
                // may still read it there. Compaction, which never runs during one, clears it.
                var grown = new KeyVersion[4];
                grown[0] = single;
                grown[1] = version;
                Volatile.Write(ref versions, grown);
            }
            else if (count == versions.Length)
            {
                // A new array: one being read by a snapshot writer keeps its first count versions as they were.
                var grown = new KeyVersion[count * 2];
                Array.Copy(versions, grown, count);
                grown[count] = version;
                Volatile.Write(ref versions, grown);
            }
            else
            {
                versions[count] = version;
            }
        }

        // Published after the version itself: a snapshot writer reading the count concurrently sees versions that are there.
        Volatile.Write(ref count, count + 1);
    }

    /// <summary>
    /// How many versions are at or before <paramref name="revision"/>, for a snapshot writer on another thread while
    /// versions are appended (after it: they only ever have newer revisions); compaction waits for the writer.
    /// </summary>
    internal int CountAtOrBefore(long revision)
    {
        var n = Volatile.Read(ref count);
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
    internal ReadOnlySpan<KeyVersion> FrozenVersions(int frozenCount) => Volatile.Read(ref versions) is { } many
        ? many.AsSpan(0, frozenCount)
        : frozenCount == 0 ? [] : MemoryMarshal.CreateReadOnlySpan(ref single, 1);

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
        var all = FrozenVersions(Volatile.Read(ref count));
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

        var left = count - drop;
        if (versions is null)
        {
            single = default; // drop == count == 1
        }
        else if (left == 1)
        {
            // Back to one version: inline again, and the array goes.
            single = versions[count - 1];
            versions = null;
        }
        else if (left == 0)
        {
            versions = null;
        }
        else
        {
            single = default; // left over from the time it was the only version
            Array.Copy(versions, drop, versions, 0, left);
            Array.Clear(versions, left, count - left);
            if (versions.Length > 8 && left <= versions.Length / 4)
            {
                Array.Resize(ref versions, Math.Max(4, left * 2));
            }
        }

        count = left;
        return (freed, snapshotBytes);
    }

    /// <summary>
    /// Moves the key and the values of this history's versions that sit in chunks <paramref name="arena"/> is emptying (in place:
    /// the caller excludes snapshot writers and readers of histories, as for <see cref="Compact"/>).
    /// </summary>
    internal void MoveValues(ValueArena arena)
    {
        if (ValueArena.MustMove(KeyStored))
        {
            var moved = arena.Move(KeyStored);
            keyStorage = moved.Storage;
            keyLocation = moved.Location;
        }

        if (versions is null)
        {
            if (count == 1 && !single.IsTombstone && ValueArena.MustMove(single.Stored))
            {
                single = single.WithValue(arena.Move(single.Stored));
            }

            return;
        }

        single = default; // left over from the time it was the only version: no reader needs it now
        for (var i = 0; i < count; i++)
        {
            if (!versions[i].IsTombstone && ValueArena.MustMove(versions[i].Stored))
            {
                versions[i] = versions[i].WithValue(arena.Move(versions[i].Stored));
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

namespace Conclave.Cluster;

/// <summary>
/// The entry cache of <see cref="RaftLog"/>: the entries after the newest snapshot, in memory, by index. Not thread-safe:
/// the log changes it under its lock; <see cref="LastIndex"/> and <see cref="BaseIndex"/> may be read without it.
/// </summary>
internal sealed class LogEntries
{
    private readonly List<StoredEntry> entries = [];
    private long baseIndex;
    private long lastIndex;
    private long residentBytes;
    private int evictFrom; // entries before this position hold no payload in memory (or cannot be evicted yet)

    /// <param name="snapshotIndex">The index of the snapshot the entries follow (0 when none).</param>
    public LogEntries(long snapshotIndex)
    {
        baseIndex = lastIndex = snapshotIndex;
    }

    /// <summary>The index of the snapshot the entries follow: the log holds no entry at or before it.</summary>
    public long BaseIndex => Volatile.Read(ref baseIndex);

    /// <summary>The last entry's index (<see cref="BaseIndex"/> when the log holds none).</summary>
    public long LastIndex => Volatile.Read(ref lastIndex);

    /// <summary>How often a tail was replaced (a waiter for durability of a range checks it again when this moved).</summary>
    public long Truncations { get; private set; }

    /// <summary>The entry at <paramref name="index"/>, or null when a snapshot replaced it or the log does not reach it.</summary>
    public StoredEntry? At(long index)
    {
        if (index == 0)
        {
            return StoredEntry.Initial;
        }

        var offset = index - baseIndex - 1;
        return offset >= 0 && offset < entries.Count ? entries[(int)offset] : null;
    }

    /// <summary>Appends <paramref name="entry"/>, whose index must be <see cref="LastIndex"/> + 1.</summary>
    public void Add(StoredEntry entry)
    {
        if (entry.Index != lastIndex + 1)
        {
            throw new InvalidOperationException($"Entry {entry.Index} does not follow the last entry {lastIndex}.");
        }

        entries.Add(entry);
        residentBytes += entry.ResidentBytes;
        Volatile.Write(ref lastIndex, entry.Index);
    }

    /// <summary>Payload bytes the entries hold in memory.</summary>
    public long ResidentBytes => residentBytes;

    /// <summary>
    /// Drops payloads from memory, oldest first, while more than <paramref name="budget"/> bytes are resident: only of
    /// entries at or below <paramref name="appliedIndex"/> that are durable in a segment (they are read back from there
    /// when asked for). Returns the bytes freed.
    /// </summary>
    public long Evict(long appliedIndex, long budget)
    {
        long freed = 0;
        while (residentBytes > budget && evictFrom < entries.Count)
        {
            var entry = entries[evictFrom];
            if (entry.Index > appliedIndex || (entry.ResidentBytes > 0 && !entry.IsLocated))
            {
                break;
            }

            var bytes = entry.Evict();
            residentBytes -= bytes;
            freed += bytes;
            evictFrom++;
        }

        return freed;
    }

    /// <summary>Drops the entries from <paramref name="index"/> on (on disk the next frame supersedes them).</summary>
    public void TruncateFrom(long index)
    {
        var keep = (int)(index - baseIndex - 1);
        for (var i = keep; i < entries.Count; i++)
        {
            residentBytes -= entries[i].ResidentBytes;
        }

        entries.RemoveRange(keep, entries.Count - keep);
        evictFrom = Math.Min(evictFrom, keep);
        Volatile.Write(ref lastIndex, index - 1);
        Truncations++;
    }

    /// <summary>
    /// The log now follows a snapshot at <paramref name="index"/>: the entries up to it go, those after it stay (a leader
    /// overwrites any that differ); a log that ends before it is empty and ends at it.
    /// </summary>
    public void StartAfter(long index)
    {
        if (index <= baseIndex)
        {
            return;
        }

        if (lastIndex <= index)
        {
            entries.Clear();
            residentBytes = 0;
            evictFrom = 0;
            Volatile.Write(ref lastIndex, index);
        }
        else
        {
            var drop = (int)(index - baseIndex);
            for (var i = 0; i < drop; i++)
            {
                residentBytes -= entries[i].ResidentBytes;
            }

            entries.RemoveRange(0, drop);
            evictFrom = Math.Max(0, evictFrom - drop);
        }

        Volatile.Write(ref baseIndex, index);
    }
}

using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>Every retained revision of one key, oldest first.</summary>
public sealed class KeyHistory
{
    private readonly List<KeyVersion> versions = new(1);

    public KeyHistory(ByteString key) => Key = key;

    /// <summary>Probe used as an upper bound when scanning an ordered set of histories.</summary>
    internal static KeyHistory UpperBound { get; } = new(ByteString.Empty) { IsUpperBound = true };

    public ByteString Key { get; }

    internal bool IsUpperBound { get; private init; }

    public IReadOnlyList<KeyVersion> Versions => versions;

    public int Count => versions.Count;

    /// <summary>The live value at the newest revision, or null when the key is deleted.</summary>
    public KeyValue? Latest => versions.Count == 0 ? null : versions[^1].Value;

    public void Append(KeyVersion version) => versions.Add(version);

    /// <summary>The value visible at <paramref name="revision"/>, or null when absent then.</summary>
    public KeyValue? At(long revision)
    {
        var i = IndexAtOrBefore(revision);
        return i < 0 ? null : versions[i].Value;
    }

    /// <summary>
    /// Drops what no read at or after <paramref name="compactRevision"/> can see; returns the bytes freed.
    /// Keeps the version visible at the compact revision unless it is a tombstone.
    /// </summary>
    public long Compact(long compactRevision)
    {
        var keep = IndexAtOrBefore(compactRevision);
        if (keep < 0)
        {
            return 0;
        }

        var drop = keep;
        if (versions[keep].IsTombstone && versions[keep].Main < compactRevision)
        {
            drop = keep + 1;
        }

        long freed = 0;
        for (var i = 0; i < drop; i++)
        {
            freed += versions[i].Cost(Key.Length);
        }

        versions.RemoveRange(0, drop);
        return freed;
    }

    private int IndexAtOrBefore(long revision)
    {
        // Histories are short and reads are usually of the newest version: scan from the end.
        for (var i = versions.Count - 1; i >= 0; i--)
        {
            if (versions[i].Main <= revision)
            {
                return i;
            }
        }

        return -1;
    }
}

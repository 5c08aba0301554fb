namespace Conclave.Storage.Auth;

/// <summary>
/// A set of key ranges, merged: sorted, disjoint and non-adjacent, so a requested range is covered exactly when one
/// interval holds all of it. A range is etcd's <c>[key, range_end)</c>: an empty end names the key alone, an end of
/// <c>"\0"</c> every key from <c>key</c> on.
/// </summary>
public sealed class KeyIntervals
{
    private static readonly byte[] OneZero = [0];

    // Start inclusive; End exclusive, null for "every key from Start on".
    private readonly (byte[] Start, byte[]? End)[] intervals;

    private KeyIntervals((byte[] Start, byte[]? End)[] intervals) => this.intervals = intervals;

    public static KeyIntervals Empty { get; } = new([]);

    /// <summary>How many disjoint intervals the set holds (for tests).</summary>
    public int Count => intervals.Length;

    /// <summary>Merges etcd ranges (key, range_end) into one set.</summary>
    public static KeyIntervals Of(IEnumerable<(byte[] Key, byte[] RangeEnd)> ranges)
    {
        var normalized = ranges.Select(static r => Normalize(r.Key, r.RangeEnd))
            .Where(static r => r.End is null || r.Start.AsSpan().SequenceCompareTo(r.End) < 0)
            .OrderBy(static r => r.Start, ByteComparer.Instance)
            .ToList();
        var merged = new List<(byte[] Start, byte[]? End)>(normalized.Count);
        foreach (var next in normalized)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                if (last.End is null)
                {
                    break; // the last interval already runs to the end of the keyspace
                }

                if (next.Start.AsSpan().SequenceCompareTo(last.End) <= 0)
                {
                    merged[^1] = (last.Start, next.End is null || next.End.AsSpan().SequenceCompareTo(last.End) > 0 ? next.End : last.End);
                    continue;
                }
            }

            merged.Add(next);
        }

        return new KeyIntervals([.. merged]);
    }

    /// <summary>
    /// Whether every key of the etcd range <c>[key, rangeEnd)</c> is in the set. A range whose end is not after its key
    /// selects no key; it is treated as the key alone, so an empty range does not open what the key would not.
    /// </summary>
    public bool Covers(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd)
    {
        if (intervals.Length == 0)
        {
            return false;
        }

        // The last interval that starts at or before the key is the only one that can hold the range.
        int lo = 0, hi = intervals.Length - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (intervals[mid].Start.AsSpan().SequenceCompareTo(key) <= 0)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        if (found < 0)
        {
            return false;
        }

        var end = intervals[found].End;
        if (end is null)
        {
            return true;
        }

        if (rangeEnd.SequenceEqual(OneZero))
        {
            return false; // an open range, and this interval ends
        }

        if (rangeEnd.IsEmpty || rangeEnd.SequenceCompareTo(key) <= 0)
        {
            return key.SequenceCompareTo(end) < 0; // the key alone
        }

        return rangeEnd.SequenceCompareTo(end) <= 0;
    }

    private static (byte[] Start, byte[]? End) Normalize(byte[] key, byte[] rangeEnd)
    {
        if (rangeEnd.Length == 0)
        {
            // The key alone: [key, key + "\0").
            var end = new byte[key.Length + 1];
            key.CopyTo(end, 0);
            return (key, end);
        }

        return rangeEnd.AsSpan().SequenceEqual(OneZero) ? (key, null) : (key, rangeEnd);
    }

    private sealed class ByteComparer : IComparer<byte[]>
    {
        public static ByteComparer Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

namespace Conclave.Storage.Watch;

/// <summary>
/// An append-only sequence that drops from its front, kept in fixed segments of <see cref="SegmentLength"/> items
/// instead of one array that doubles: a million items cost their own size plus at most one segment of slack (a list's
/// array is up to twice its items, and growing it copied all of them while the caller held its lock and left the old
/// array as large-object garbage), and dropping the oldest items gives up whole segments without moving the rest.
/// Items are addressed by their position since the sequence was made or last cleared (a long: a member appends one a
/// revision for as long as it runs). Not thread-safe: the caller locks.
/// </summary>
internal sealed class SegmentedLog<T>
{
    /// <summary>Items a segment holds: 4,096 entries of 16 bytes are 64 KiB, under the large-object threshold.</summary>
    internal const int SegmentLength = 4096;

    private const int SegmentShift = 12; // log2 of SegmentLength

    private readonly List<T[]> segments = [];
    private long firstSegment; // the position, in segments, of segments[0]

    /// <summary>The position the next item gets.</summary>
    public long End { get; private set; }

    /// <summary>The position of the oldest item kept.</summary>
    public long Start { get; private set; }

    public long Count => End - Start;

    public void Add(T item)
    {
        var offset = (int)(End & (SegmentLength - 1));
        if (offset == 0)
        {
            segments.Add(new T[SegmentLength]);
        }

        segments[^1][offset] = item;
        End++;
    }

    /// <summary>The item at <paramref name="position"/> (from <see cref="Start"/>, before <see cref="End"/>).</summary>
    public ref T this[long position]
    {
        get
        {
            if (position < Start || position >= End)
            {
                throw new ArgumentOutOfRangeException(nameof(position), position, $"not between {Start} and {End}");
            }

            return ref segments[(int)((position >> SegmentShift) - firstSegment)][(int)(position & (SegmentLength - 1))];
        }
    }

    /// <summary>Drops the items before <paramref name="position"/>: segments wholly before it go, the rest are cleared.</summary>
    public void DropBefore(long position)
    {
        position = Math.Min(position, End);
        for (; Start < position; Start++)
        {
            this[Start] = default!; // what the item refers to is not kept alive by a segment that stays
        }

        var whole = (int)((Start >> SegmentShift) - firstSegment);
        if (whole > 0)
        {
            segments.RemoveRange(0, whole);
            firstSegment += whole;
        }
    }

    public void Clear()
    {
        segments.Clear();
        firstSegment = 0;
        Start = End = 0;
    }
}

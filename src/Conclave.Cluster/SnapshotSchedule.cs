namespace Conclave.Cluster;

/// <summary>
/// Where snapshots are taken: a pure function of the log (its indexes and payload sizes) and of the state's image sizes,
/// so that every member with the same settings takes its snapshots at the same indexes and the same state makes the
/// same image there, byte for byte (ADR 0010: a fetch continues from any member holding the image).
/// </summary>
/// <remarks>
/// A snapshot rewrites the whole state, so what it costs is the state's size, however little changed. The schedule
/// bounds what the snapshots write per byte of log (ADR 0017):
/// <list type="bullet">
/// <item>at a multiple of the interval (<c>--snapshot-count</c>) while the last image is no larger than the configured
/// minimum of log bytes (8 MiB: cheap to write however often); beyond that, only once the log since the last point
/// carries at least a <see cref="MaxWriteAmplification"/>th of the last image's size, so a gigabyte waits for 256 MB
/// of change instead of rewriting itself for every 10,000 entries;</item>
/// <item>at every <see cref="AlignmentStride"/>th multiple of the interval, whatever the bytes: the entries behind the
/// newest snapshot (an object each in memory, and the restart's replay) stay bounded when they are small, and members
/// whose points once differed (other settings, another build) meet again there;</item>
/// <item>once the log since the last point carries the configured minimum of bytes or half the last image's size,
/// whichever is more, at any index: the log on disk stays within about half the state.</item>
/// </list>
/// So the snapshots write at most <see cref="MaxWriteAmplification"/> times the log's bytes (plus the log itself, as far
/// as the state grew by it), and one image more per <see cref="AlignmentStride"/> intervals: that one is all there is
/// when entries are so small that that many of them carry less than a quarter of the state
/// (<c>SnapshotScheduleTests</c>).
/// </remarks>
internal sealed class SnapshotSchedule
{
    /// <summary>The most a snapshot at a multiple of the interval writes per byte of log since the last point.</summary>
    public const long MaxWriteAmplification = 4;

    /// <summary>Every this-many-th multiple of the interval is a point whatever the log's bytes.</summary>
    public const long AlignmentStride = 16;

    private readonly long interval;
    private readonly long minLogBytes;
    private long bytesSincePoint;
    private long lastImageBytes;

    public SnapshotSchedule(long interval, long minLogBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, 1, nameof(interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(minLogBytes, 1, nameof(minLogBytes));
        this.interval = interval;
        this.minLogBytes = minLogBytes;
    }

    /// <summary>Counts an applied entry's payload.</summary>
    public void Applied(long payloadBytes) => bytesSincePoint += payloadBytes;

    /// <summary>Whether <paramref name="index"/> (just applied) is a point; if it is, the count starts again from it.</summary>
    public bool IsPoint(long index)
    {
        var point = bytesSincePoint >= LogBytesLimit
                    || (index % interval == 0
                        && (index / interval % AlignmentStride == 0
                            || lastImageBytes <= minLogBytes
                            || bytesSincePoint * MaxWriteAmplification >= lastImageBytes));
        if (point)
        {
            bytesSincePoint = 0;
        }

        return point;
    }

    /// <summary>The payload bytes since the last point at which any index is a point.</summary>
    private long LogBytesLimit => long.Max(minLogBytes, lastImageBytes / 2);

    /// <summary>
    /// Records the state's image size at the point just taken, or at the snapshot the state was restored or installed
    /// from (which also starts the count again from it).
    /// </summary>
    public void ImageAt(long imageBytes, bool restarted = false)
    {
        lastImageBytes = imageBytes;
        if (restarted)
        {
            bytesSincePoint = 0;
        }
    }
}

namespace Conclave.Cluster.Tests;

/// <summary>
/// Where snapshots are taken (<see cref="SnapshotSchedule"/>): what they write per byte of log stays bounded as the state
/// grows, the log behind the newest one stays bounded in entries and bytes, and members that once disagreed meet again.
/// The image of the state is modelled as growing by each entry's bytes (every put a new key), the worst case for the
/// bound, or as fixed (overwrites).
/// </summary>
public sealed class SnapshotScheduleTests
{
    private const long Interval = 1_000;
    private const long MinLogBytes = 64 * 1024;

    private sealed record Run(List<long> Points, long LogBytes, long ImageBytes, long LongestGap);

    private static Run Drive(SnapshotSchedule schedule, long entries, Func<long, long> entryBytes, long initialImage, bool imageGrows)
    {
        var points = new List<long>();
        var (logBytes, imageBytes, image, last, longest) = (0L, 0L, initialImage, 0L, 0L);
        for (var index = 1L; index <= entries; index++)
        {
            var bytes = entryBytes(index);
            schedule.Applied(bytes);
            logBytes += bytes;
            image += imageGrows ? bytes : 0;
            if (schedule.IsPoint(index))
            {
                schedule.ImageAt(image);
                imageBytes += image;
                points.Add(index);
                longest = long.Max(longest, index - last);
                last = index;
            }
        }

        return new Run(points, logBytes, imageBytes, long.Max(longest, entries - last));
    }

    [Fact]
    public void A_small_state_is_snapshotted_at_every_multiple_of_the_interval()
    {
        // An image up to the minimum of log bytes, whatever little the log carries (5 bytes an entry here).
        var schedule = new SnapshotSchedule(Interval, MinLogBytes);
        schedule.ImageAt(MinLogBytes, restarted: true);
        var run = Drive(schedule, 10 * Interval, _ => 5, initialImage: MinLogBytes, imageGrows: false);
        Assert.Equal(Enumerable.Range(1, 10).Select(static i => i * Interval), run.Points);

        // A larger one at every multiple once the log carries a quarter of it (400 KB of log in the first interval).
        schedule = new SnapshotSchedule(Interval, MinLogBytes);
        schedule.ImageAt(1_600_000, restarted: true);
        run = Drive(schedule, 10 * Interval, _ => 400, initialImage: 1_600_000, imageGrows: false);
        Assert.Equal(Enumerable.Range(1, 10).Select(static i => i * Interval), run.Points);

        // Entries so small that a stride of them carries less than a quarter: only at the stride.
        schedule = new SnapshotSchedule(Interval, MinLogBytes);
        schedule.ImageAt(1_600_000, restarted: true);
        run = Drive(schedule, 2 * SnapshotSchedule.AlignmentStride * Interval, _ => 20, initialImage: 1_600_000, imageGrows: false);
        Assert.Equal([SnapshotSchedule.AlignmentStride * Interval, 2 * SnapshotSchedule.AlignmentStride * Interval], run.Points);
    }

    [Theory]
    [InlineData(1_024, 1_000_000_000L)] // a gigabyte overwritten by 1 KiB puts, one per entry: the stride comes first
    [InlineData(16_384, 2_000_000_000L)]
    [InlineData(300, 50_000_000L)]
    public void A_large_state_waits_for_a_share_of_its_size_in_log_or_the_alignment_stride(long entryBytes, long imageBytes)
    {
        const long Interval = 10_000; // the default --snapshot-count
        var schedule = new SnapshotSchedule(Interval, MinLogBytes);
        schedule.ImageAt(imageBytes, restarted: true);
        var entries = 10 * SnapshotSchedule.AlignmentStride * Interval;
        var run = Drive(schedule, entries, _ => entryBytes, imageBytes, imageGrows: false);

        Assert.NotEmpty(run.Points);
        Assert.All(run.Points, static p => Assert.Equal(0, p % Interval)); // the byte limit (half the image) is not reached first here
        Assert.True(run.LongestGap <= SnapshotSchedule.AlignmentStride * Interval, $"{run.LongestGap} entries between two snapshots");
        // What the snapshots wrote per byte of log: at most the bound, plus one image per stride of entries (which is
        // all there is when entries are small).
        var strideImages = (double)imageBytes / (SnapshotSchedule.AlignmentStride * Interval * entryBytes);
        var amplification = (double)run.ImageBytes / run.LogBytes;
        Assert.True(
            amplification <= SnapshotSchedule.MaxWriteAmplification + strideImages + 0.01,
            $"snapshots wrote {amplification:0.00} bytes per byte of log (bound {SnapshotSchedule.MaxWriteAmplification} + {strideImages:0.00})");
        // The rule before (an image at every multiple of the interval) wrote several times more.
        var everyMultiple = (double)imageBytes * (entries / Interval) / run.LogBytes;
        Assert.True(amplification * 3 < everyMultiple, $"{amplification:0.00} against {everyMultiple:0.00} bytes per byte of log");
    }

    [Fact]
    public void Large_entries_reach_the_byte_limit_between_multiples_and_keep_the_log_within_half_the_state()
    {
        var schedule = new SnapshotSchedule(Interval, MinLogBytes);
        var run = Drive(schedule, 20 * Interval, _ => 200_000, initialImage: 0, imageGrows: true);

        Assert.Contains(run.Points, static p => p % Interval != 0);
        var image = 0L;
        var last = 0L;
        foreach (var point in run.Points)
        {
            var log = (point - last) * 200_000;
            Assert.True(log <= long.Max(MinLogBytes, image / 2) + 200_000, $"{log} bytes of log before the point at {point}, image {image}");
            image = point * 200_000;
            last = point;
        }

        // A growing state: each image is at most the bound times the log since the last one, plus that log itself.
        Assert.True(
            (double)run.ImageBytes / run.LogBytes <= SnapshotSchedule.MaxWriteAmplification + 1,
            $"{(double)run.ImageBytes / run.LogBytes:0.00} bytes of image per byte of log");
    }

    [Fact]
    public void Members_whose_points_differed_meet_again_at_the_alignment_stride()
    {
        // One member took its last snapshot at another index (another setting, another build, a lost capture): from
        // the next stride multiple on, both take the same points.
        const long image = 500_000_000;
        var a = new SnapshotSchedule(Interval, MinLogBytes);
        var b = new SnapshotSchedule(Interval, MinLogBytes);
        a.ImageAt(image, restarted: true);
        b.ImageAt(image, restarted: true);
        Func<long, long> bytes = static i => 500 + (i * 7919 % 1500);
        for (var index = 1L; index <= 3 * Interval; index++)
        {
            a.Applied(bytes(index)); // b starts counting later, as from a snapshot at 3 * Interval
            a.IsPoint(index);
        }

        var stride = SnapshotSchedule.AlignmentStride * Interval;
        var pointsA = new List<long>();
        var pointsB = new List<long>();
        for (var index = (3 * Interval) + 1; index <= 5 * stride; index++)
        {
            a.Applied(bytes(index));
            b.Applied(bytes(index));
            if (a.IsPoint(index))
            {
                pointsA.Add(index);
                a.ImageAt(image);
            }

            if (b.IsPoint(index))
            {
                pointsB.Add(index);
                b.ImageAt(image);
            }
        }

        Assert.Contains(stride, pointsA);
        Assert.Contains(stride, pointsB);
        Assert.Equal(pointsA.Where(p => p >= stride), pointsB.Where(p => p >= stride));
    }
}

using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// Old snapshot images are deleted off the apply loop and a step at a time (<see cref="FileReclaimer"/>): freeing a
/// gigabyte file at once held the Raft log's fsyncs, and every client's put, for up to half a second.
/// </summary>
public sealed class FileReclaimerTests : IDisposable
{
    private const long Step = FileReclaimer.StepBytes;
    private readonly string root = Path.Combine(Path.GetTempPath(), "conclave-reclaimer-tests", Guid.NewGuid().ToString("N"));

    public FileReclaimerTests() => Directory.CreateDirectory(root);

    public void Dispose()
    {
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_file_leaves_the_listing_at_once_and_is_freed_a_step_at_a_time()
    {
        var path = Path.Combine(root, "snapshot-1.snap");
        using (var file = File.Create(path))
        {
            file.SetLength(5 * Step + 100);
        }

        // Each pause sees the file cut by one more step; the first pause is held until the listing is checked.
        var doomed = path + FileReclaimer.Suffix;
        var lengths = new List<long>();
        var checkedListing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reclaimer = new FileReclaimer(NullLogger.Instance, async _ =>
        {
            lengths.Add(new FileInfo(doomed).Length);
            await checkedListing.Task;
        });

        reclaimer.Delete(path);
        Assert.False(File.Exists(path));
        Assert.Empty(SnapshotFile.List(root));
        checkedListing.SetResult();
        await reclaimer.Idle.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([4 * Step + 100, 3 * Step + 100, 2 * Step + 100, Step + 100, 100], lengths);
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
    }

    [Fact]
    public async Task Files_left_renamed_by_an_earlier_run_are_finished_and_others_kept()
    {
        var left = Path.Combine(root, "snapshot-00000000000000000001-00000000000000000001.snap" + FileReclaimer.Suffix);
        var kept = Path.Combine(root, "snapshot-00000000000000000002-00000000000000000001.snap");
        using (var file = File.Create(left))
        {
            file.SetLength(3 * Step);
        }

        await File.WriteAllTextAsync(kept, "kept");

        var pauses = 0;
        var reclaimer = new FileReclaimer(NullLogger.Instance, _ =>
        {
            pauses++;
            return Task.CompletedTask;
        });
        reclaimer.DeleteLeftovers(root);
        await reclaimer.Idle.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(File.Exists(left));
        Assert.Equal("kept", await File.ReadAllTextAsync(kept));
        Assert.Equal(2, pauses);
    }

    [Fact]
    public async Task A_link_left_in_the_folder_is_removed_and_what_it_points_at_is_not_cut()
    {
        var outside = Path.Combine(root, "outside");
        Directory.CreateDirectory(outside);
        var target = Path.Combine(outside, "precious");
        using (var file = File.Create(target))
        {
            file.SetLength(3 * Step);
        }

        var folder = Path.Combine(root, "snap");
        Directory.CreateDirectory(folder);
        var link = Path.Combine(folder, "snapshot-1.snap" + FileReclaimer.Suffix);
        File.CreateSymbolicLink(link, target);

        var reclaimer = new FileReclaimer(NullLogger.Instance, _ => Task.CompletedTask);
        reclaimer.DeleteLeftovers(folder);
        await reclaimer.Idle.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(File.Exists(link) || new FileInfo(link).LinkTarget is not null);
        Assert.Equal(3 * Step, new FileInfo(target).Length);
    }

    [Fact]
    public async Task Draining_finishes_without_pausing()
    {
        var path = Path.Combine(root, "big.tmp");
        using (var file = File.Create(path))
        {
            file.SetLength(50 * Step);
        }

        var pauses = 0;
        var firstPause = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reclaimer = new FileReclaimer(NullLogger.Instance, token =>
        {
            pauses++;
            firstPause.TrySetResult();
            return Task.Delay(Timeout.InfiniteTimeSpan, token); // a pause that never ends: only draining finishes the file
        });

        reclaimer.Delete(path);
        await firstPause.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(reclaimer.Idle.IsCompleted);
        await reclaimer.DrainAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, pauses);
        Assert.Empty(Directory.EnumerateFileSystemEntries(root));
    }

    [Fact]
    public async Task A_member_finishes_deletions_at_start_and_deletes_older_snapshots_in_the_background()
    {
        var directory = Path.Combine(root, "snap");
        Directory.CreateDirectory(directory);
        var state = new RecordingStateMachine();
        using (var image = new SnapshotBuffer())
        {
            state.WriteSnapshot(image);
            SnapshotFile.Write(directory, 10, 1, image);
        }

        // Left by a crash: an image being written, and an old one being deleted.
        using (var partial = File.Create(Path.Combine(directory, "snapshot-00000000000000000020-00000000000000000001.snap.tmp")))
        {
            partial.SetLength(3 * Step);
        }

        using (var deleting = File.Create(Path.Combine(directory, "snapshot-00000000000000000005-00000000000000000001.snap" + FileReclaimer.Suffix)))
        {
            deleting.SetLength(2 * Step);
        }

        using var metrics = new ClusterMetrics(static () => 0, static () => 0, static () => 0);
        var machine = LonelyAdapter.Create(new RecordingStateMachine(), directory, metrics);
        await using var _ = machine;
        machine.RestoreLatest();
        Assert.Equal(10, machine.Snapshot!.Index);
        await machine.Reclaimed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([SnapshotFile.FileName(10, 1)], Directory.EnumerateFiles(directory).Select(Path.GetFileName));

        // A newer snapshot: the older one leaves the listing when the log is compacted, and the disk soon after.
        using (var image = new SnapshotBuffer())
        {
            state.WriteSnapshot(image);
            await machine.InstallAsync(SnapshotFile.Write(directory, 30, 1, image));
        }

        await machine.ReclaimGarbageAsync(30, CancellationToken.None);
        Assert.Equal([30L], SnapshotFile.List(directory).Select(static f => f.Index));
        await machine.Reclaimed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([SnapshotFile.FileName(30, 1)], Directory.EnumerateFiles(directory).Select(Path.GetFileName));
    }
}

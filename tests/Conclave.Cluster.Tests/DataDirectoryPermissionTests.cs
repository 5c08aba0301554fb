using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The data directory holds every value ever written (secrets included): it and everything in it are private to the
/// member's user, 0700 directories and 0600 files, as etcd keeps its own.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataDirectoryPermissionTests : IAsyncLifetime
{
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OpenDirectory = PrivateDirectory | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const UnixFileMode OpenFile = PrivateFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly RecordingLoggerFactory logs = new();
    private readonly TestMember member;

    public DataDirectoryPermissionTests() =>
        member = new(o => o with { SnapshotInterval = 40, MaxBatchCommands = 1, MaxInFlightBatches = 1, LoggerFactory = logs, WalSegmentSize = 1024 * 1024 });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    private async Task WriteAsync(int count, string prefix, int valueBytes = 500)
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);
        for (var i = 0; i < count; i++)
        {
            await node.ProposeAsync(RecordingStateMachine.Put($"{prefix}{i:D4}" + new string('v', valueBytes)));
        }

        await TestMember.WaitUntilAsync(() => node.SnapshotIndex >= 40, "a snapshot");
    }

    /// <summary>Every entry under the data directory (and the directory itself) whose mode is not private.</summary>
    private List<string> NotPrivate()
    {
        var found = new List<string>();
        void Check(FileSystemInfo entry, UnixFileMode expected)
        {
            if (entry.UnixFileMode != expected)
            {
                found.Add($"{Path.GetRelativePath(member.DataDirectory, entry.FullName)}: {entry.UnixFileMode} (want {expected})");
            }
        }

        Check(new DirectoryInfo(member.DataDirectory), PrivateDirectory);
        foreach (var entry in new DirectoryInfo(member.DataDirectory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            Check(entry, entry is DirectoryInfo ? PrivateDirectory : PrivateFile);
        }

        return found;
    }

    private List<string> Entries() =>
        [.. Directory.EnumerateFileSystemEntries(member.DataDirectory, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(member.DataDirectory, p))];

    [Fact]
    public async Task A_new_member_creates_its_data_directory_and_everything_in_it_private()
    {
        await WriteAsync(150, "a", valueBytes: 8000); // more than one 1 MiB segment
        await WriteAsync(10, "b"); // a restart: the snapshot is read back, the log reopened

        var entries = Entries();
        Assert.Contains("cluster-id", entries);
        Assert.Contains("format", entries);
        Assert.Contains(entries, e => e.StartsWith("members", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.StartsWith("snap" + Path.DirectorySeparatorChar, StringComparison.Ordinal) && e.EndsWith(".snap", StringComparison.Ordinal));
        Assert.True(entries.Count(e => e.EndsWith(".wal", StringComparison.Ordinal)) >= 2, string.Join(", ", entries));
        Assert.Empty(NotPrivate());
    }

    [Fact]
    public async Task The_copy_of_a_damaged_log_is_private()
    {
        await WriteAsync(150, "a");
        DamageNewestSegment();

        await WriteAsync(1, "b");

        Assert.Single(Directory.GetDirectories(member.DataDirectory, "log.corrupt-*"));
        Assert.Empty(NotPrivate());
    }

    [Fact]
    public async Task An_open_data_directory_is_reported_and_the_members_own_files_in_it_are_made_private()
    {
        await WriteAsync(100, "a");

        // What an older version (or a copy made without care) leaves: everything readable by anyone.
        File.SetUnixFileMode(member.DataDirectory, OpenDirectory);
        foreach (var entry in new DirectoryInfo(member.DataDirectory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            entry.UnixFileMode = entry is DirectoryInfo ? OpenDirectory : OpenFile;
        }

        // And a file the member did not create: it is left alone.
        var foreign = Path.Combine(member.DataDirectory, "operator-notes.txt");
        await File.WriteAllTextAsync(foreign, "not the member's");
        File.SetUnixFileMode(foreign, OpenFile);
        logs.Records.Clear();

        await WriteAsync(1, "b");

        var warning = Assert.Single(logs.Records, r => r.Level == LogLevel.Warning && r.Message.Contains("rwx------", StringComparison.Ordinal));
        Assert.Contains(member.DataDirectory, warning.Message, StringComparison.Ordinal);
        Assert.Contains("rwxr-xr-x", warning.Message, StringComparison.Ordinal);
        Assert.Single(logs.Records, r => r.Level == LogLevel.Warning && r.Message.Contains("made private", StringComparison.Ordinal));

        // The directory is the operator's to change (etcd warns too); what the member wrote inside it is private again.
        Assert.Equal(OpenDirectory, File.GetUnixFileMode(member.DataDirectory));
        Assert.Equal(OpenFile, File.GetUnixFileMode(foreign));
        File.SetUnixFileMode(member.DataDirectory, PrivateDirectory);
        File.Delete(foreign);
        Assert.Empty(NotPrivate());

        // Once private, the next start has nothing to say.
        logs.Records.Clear();
        await WriteAsync(1, "c");
        Assert.DoesNotContain(logs.Records, r => r.Level == LogLevel.Warning);
    }

    /// <summary>Flips one byte in the middle frame of the newest segment that holds frames: damage, not a torn write.</summary>
    private void DamageNewestSegment()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(member.DataDirectory, "log"), "*.wal").Order().Reverse())
        {
            var bytes = File.ReadAllBytes(path);
            var frames = SegmentFrames.Of(bytes);

            if (frames.Count < 3)
            {
                continue;
            }

            var damaged = frames[frames.Count / 2];
            var offset = damaged.Offset + damaged.Length - 3;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            stream.Position = offset;
            stream.WriteByte((byte)(bytes[offset] ^ 0x40));
            return;
        }

        Assert.Fail("no segment with frames to damage");
    }
}

using System.Buffers.Binary;
using System.Net;

namespace Conclave.Cluster.Tests;

/// <summary>
/// Restarts over a log a crash or the disk damaged: a torn last write is cut (it was never acknowledged), damage
/// inside the log keeps the longest intact prefix and sets the damaged files aside.
/// </summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    // One command per entry and one entry per flush, so every entry is a frame of its own.
    private readonly RecordingLoggerFactory logs = new();
    private readonly TestMember member;

    public RecoveryTests() =>
        member = new(o => o with { MaxBatchCommands = 1, MaxInFlightBatches = 1, LoggerFactory = logs, WalSegmentSize = 1024 * 1024 });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    private string LogDirectory => Path.Combine(member.DataDirectory, "log");

    private async Task<IReadOnlyList<string>> WriteAsync(int count, int valueBytes = 0)
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);
        for (var i = 0; i < count; i++)
        {
            await node.ProposeAsync(RecordingStateMachine.Put($"k{i:D4}" + new string('v', valueBytes)));
        }

        return machine.Keys;
    }

    /// <summary>Segments that hold frames, oldest first, with each frame's (offset, length).</summary>
    private List<(string Path, List<(long Offset, int Length)> Frames)> Segments()
    {
        var result = new List<(string, List<(long, int)>)>();
        foreach (var path in Directory.GetFiles(LogDirectory, "*.wal").Order())
        {
            var bytes = File.ReadAllBytes(path);
            if (!bytes.AsSpan(0, LogSegments.SegmentHeaderSize).ContainsAnyExcept((byte)0))
            {
                continue; // the spare
            }

            result.Add((path, SegmentFrames.Of(bytes)));
        }

        return result;
    }

    private static void Overwrite(string path, long offset, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = offset;
        stream.Write(bytes);
    }

    [Fact]
    public async Task A_torn_last_write_is_cut_and_nothing_acknowledged_is_lost()
    {
        var written = await WriteAsync(100);
        // What a crash in the middle of the next flush leaves: a frame header and part of its body.
        var (path, frames) = Segments()[^1];
        var end = frames[^1].Offset + frames[^1].Length;
        var torn = new byte[300];
        BinaryPrimitives.WriteInt32LittleEndian(torn, 2000);
        BinaryPrimitives.WriteUInt32LittleEndian(torn.AsSpan(4), 0xDEADBEEF);
        Random.Shared.NextBytes(torn.AsSpan(8));
        Overwrite(path, end, torn);

        var after = new RecordingStateMachine();
        await using (var node = await member.StartAsync(after))
        {
            Assert.Equal(written, after.Keys);
            Assert.Equal(101L, await node.ProposeAsync(RecordingStateMachine.Put("next")));
        }

        var report = Assert.Single(logs.Records, r => r.EventId.Id == 2080);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, report.Level);
        Assert.Empty(Directory.GetDirectories(member.DataDirectory, "log.corrupt-*"));

        // The cut was made for good: the entry written after it survives the next restart too.
        var again = new RecordingStateMachine();
        await using var restarted = await member.StartAsync(again);
        Assert.Equal([.. written, "next"], again.Keys);
        Assert.Single(logs.Records, r => r.EventId.Id == 2080);
    }

    [Fact]
    public async Task Damage_inside_the_log_keeps_its_intact_prefix_and_sets_the_log_aside()
    {
        var written = await WriteAsync(200);
        // One flipped byte in a frame that later frames follow: not a torn write but damage.
        var (path, frames) = Segments()[^1];
        var damaged = frames[frames.Count / 2];
        var bytes = await File.ReadAllBytesAsync(path);
        Overwrite(path, damaged.Offset + damaged.Length - 3, [(byte)(bytes[damaged.Offset + damaged.Length - 3] ^ 0x40)]);

        var after = new RecordingStateMachine();
        await using var node = await member.StartAsync(after);

        Assert.Single(Directory.GetDirectories(member.DataDirectory, "log.corrupt-*"));
        var report = Assert.Single(logs.Records, r => r.EventId.Id == 2081);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Critical, report.Level);
        Assert.Equal(written.Take(after.Keys.Count), after.Keys);
        Assert.InRange(after.Keys.Count, 80, 199);
        Assert.Equal((long)after.Keys.Count + 1, await node.ProposeAsync(RecordingStateMachine.Put("next")));
    }

    [Fact]
    public async Task Damage_in_an_older_segment_keeps_the_log_before_it()
    {
        // About 3 MB of log in 1 MiB segments.
        var written = await WriteAsync(600, valueBytes: 5000);
        var segments = Segments();
        Assert.True(segments.Count >= 3, $"{segments.Count} segments");
        var (path, frames) = segments[1];
        var damaged = frames[frames.Count / 2];
        Overwrite(path, damaged.Offset + 20, [0xFF, 0xFF, 0xFF, 0xFF]);

        var after = new RecordingStateMachine();
        await using var node = await member.StartAsync(after);

        var report = Assert.Single(logs.Records, r => r.EventId.Id == 2081);
        Assert.Contains(Path.GetFileName(path), report.Message);
        Assert.Equal(written.Take(after.Keys.Count), after.Keys);
        Assert.InRange(after.Keys.Count, 100, 500);
        Assert.Equal(2, Segments().Count); // the first, and the damaged one cut at the damage; the later ones deleted
        Assert.Equal((long)after.Keys.Count + 1, await node.ProposeAsync(RecordingStateMachine.Put("next")));
    }

    [Fact]
    public async Task OneMemberClusterMayMoveToAnotherPeerPort()
    {
        var written = await WriteAsync(10);
        var moved = member.Options with { PeerEndpoint = new IPEndPoint(IPAddress.Loopback, TestMember.FreePort()) };

        var after = new RecordingStateMachine();
        await using var node = await RaftNode.StartAsync(moved, after);

        Assert.Equal(written, after.Keys);
        Assert.True(node.IsLeader);
        Assert.Equal(11L, await node.ProposeAsync(RecordingStateMachine.Put("next")));
    }
}

using System.Buffers.Binary;
using System.Net;

namespace Conclave.Cluster.Tests;

/// <summary>Restarts over a damaged WAL: the intact prefix is kept, the damaged log is set aside.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    // One command per entry, so there are enough entries to fill several 4 KiB metadata pages (64 entries each).
    private readonly RecordingLoggerFactory logs = new();
    private readonly TestMember member;

    public RecoveryTests() =>
        member = new(o => o with { MaxBatchCommands = 1, MaxInFlightBatches = 1, LoggerFactory = logs });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    private string Wal => Path.Combine(member.DataDirectory, "wal");

    private async Task<IReadOnlyList<string>> WriteAsync(int count)
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);
        for (var i = 0; i < count; i++)
        {
            await node.ProposeAsync(RecordingStateMachine.Put($"k{i}"));
        }

        return machine.Keys;
    }

    [Fact]
    public async Task GarbageAfterTheCheckpointIsIgnored()
    {
        var written = await WriteAsync(100);
        // What a crash can leave: bytes written past the last checkpointed entry.
        await File.WriteAllBytesAsync(Path.Combine(Wal, "metadata", "9"), Enumerable.Repeat((byte)0xAB, 4096).ToArray());

        var after = new RecordingStateMachine();
        await using var node = await member.StartAsync(after);

        Assert.Equal(written, after.Keys);
        Assert.Empty(Directory.GetDirectories(member.DataDirectory, "wal.corrupt-*"));
    }

    [Fact]
    public async Task DamagedLogKeepsItsIntactPrefix()
    {
        var written = await WriteAsync(200);
        // Lose the metadata page holding entries 128..191: the log is intact up to entry 127.
        File.Delete(Path.Combine(Wal, "metadata", "2"));

        var after = new RecordingStateMachine();
        await using var node = await member.StartAsync(after);

        Assert.Single(Directory.GetDirectories(member.DataDirectory, "wal.corrupt-*"));
        var report = Assert.Single(logs.Records, r => r.EventId.Id == 2020);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Critical, report.Level);
        Assert.Contains("up to index 127", report.Message);
        Assert.Equal(127, node.Status.CommitIndex);
        Assert.Equal(written.Take(after.Keys.Count), after.Keys);
        Assert.True(after.Keys.Count >= 120, $"kept {after.Keys.Count} of {written.Count}");
        Assert.Equal((long)after.Keys.Count + 1, await node.ProposeAsync(RecordingStateMachine.Put("next")));
    }

    [Fact]
    public async Task TornCheckpointKeepsTheWholeIntactLog()
    {
        var written = await WriteAsync(100);
        var checkpoint = Path.Combine(Wal, "checkpoint");
        var bytes = await File.ReadAllBytesAsync(checkpoint);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        await File.WriteAllBytesAsync(checkpoint, bytes[..12]);

        var after = new RecordingStateMachine();
        await using var node = await member.StartAsync(after);

        Assert.Equal(written, after.Keys);
        Assert.Single(Directory.GetDirectories(member.DataDirectory, "wal.corrupt-*"));
    }

    [Fact]
    public async Task ALogWrittenWithAnotherChunkSizeIsOpenedWithItsOwn()
    {
        // Written with 4 MiB chunks (the default before the seventh session), about 3 MB of log in one chunk file.
        var old = member.Options with { WalChunkSize = 4 * 1024 * 1024 };
        var before = new RecordingStateMachine();
        await using (var node = await RaftNode.StartAsync(old, before))
        {
            for (var i = 0; i < 600; i++)
            {
                await node.ProposeAsync(RecordingStateMachine.Put($"{i:D4}" + new string('v', 5000)));
            }
        }

        // Opened with 1 MiB chunks: it must read the same log, not see damage (which recovery would cut).
        var after = new RecordingStateMachine();
        await using (var node = await RaftNode.StartAsync(member.Options with { WalChunkSize = 1024 * 1024 }, after))
        {
            Assert.Equal(before.Keys, after.Keys);
            Assert.Equal(601L, await node.ProposeAsync(RecordingStateMachine.Put("next")));
        }

        Assert.False(Directory.Exists(Wal + ".corrupt"), "nothing set aside");
        Assert.Empty(Directory.GetDirectories(member.DataDirectory, "wal.corrupt-*"));
        Assert.Contains(logs.Records, r => r.EventId.Id == 2070);
        Assert.All(Directory.GetFiles(Path.Combine(Wal, "data")), f => Assert.Equal(4 * 1024 * 1024, new FileInfo(f).Length));
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

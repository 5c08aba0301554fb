using Conclave.Api.Raft;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// A follower's log receiving entries, commits and snapshots the way the Raft follower drives it: appends and
/// commits, then an InstallSnapshot far past its tail, over and over. DotNext 6.12's background flusher reads the
/// snapshot index before it takes its lock; a snapshot installed in between made it flush metadata of entries that
/// were never written (<c>MissingPageException</c>) and the log stopped for good (found by the snapshot catch-up
/// fault test). <see cref="ConclaveWriteAheadLog"/> lets the flusher finish before an install.
/// </summary>
public sealed class SnapshotInstallTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "conclave-install-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task RepeatedInstallsWhileTheFlusherIsBusyKeepTheLogWorking()
    {
        var follower = new RecordingStateMachine();
        using var metrics = new ClusterMetrics(static () => 0, static () => 0);
        var adapter = new SnapshottingStateMachine(follower, Path.Combine(root, "snap"), 1_000_000, 1L << 40, NullLogger.Instance, metrics);
        await using var _ = adapter;
        await using var wal = await ConclaveWriteAheadLog.OpenAsync(Path.Combine(root, "wal"), 1024 * 1024, adapter, CancellationToken.None);
        IAuditTrail<IRaftLogEntry> log = wal;

        // The leader's side: its state at each snapshot index, written as the file it would send.
        var leader = new RecordingStateMachine();
        var leaderSnapshots = Path.Combine(root, "leader-snap");
        Directory.CreateDirectory(leaderSnapshots);
        var payload = Batch("k");

        var next = 1L;
        for (var round = 0; round < 150; round++)
        {
            for (var i = 0; i < 20; i++)
            {
                await log.AppendAsync(new BinaryLogEntry { Content = payload, Term = 1 }, next++);
            }

            // The commit (and the entries) wake the flusher; the install follows at once, as when the leader
            // truncated its log behind a new snapshot before this follower caught up.
            await log.CommitAsync(next - 1);
            var snapshotIndex = next + 99;
            leader.Apply(snapshotIndex, 1, payload.Span);
            using var image = new SnapshotBuffer();
            leader.WriteSnapshot(image);
            var snapshot = SnapshotFile.Write(leaderSnapshots, snapshotIndex, 1, image);
            await log.AppendAsync(snapshot, snapshotIndex);
            snapshot.Delete();
            next = snapshotIndex + 1;

            Assert.Equal(snapshotIndex, wal.LastCommittedEntryIndex);
        }

        // Still working: one more entry is appended, committed, flushed and applied.
        await log.AppendAsync(new BinaryLogEntry { Content = payload, Term = 1 }, next);
        await log.CommitAsync(next);
        await wal.FlushAsync();
        await wal.WaitForApplyAsync(next);
        Assert.Equal(next, follower.AppliedIndex);
    }

    private static ReadOnlyMemory<byte> Batch(string key)
    {
        var batch = new CommandBatch { FormatVersion = 1 };
        batch.Commands.Add(RecordingStateMachine.Put(key));
        return batch.ToByteArray();
    }
}

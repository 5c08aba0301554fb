using Conclave.Api.Raft;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// A follower's log receiving entries, commits and snapshots the way the Raft follower drives it: appends and
/// commits, then an InstallSnapshot far past its tail, over and over, while the flusher is busy. (DotNext 6.12's WAL
/// stopped for good in this sequence, found by the snapshot catch-up fault test; <see cref="RaftLog"/> must keep
/// working and keep its files in step: a restart sees the last snapshot and the entry after it.)
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
        using var metrics = new ClusterMetrics(static () => 0, static () => 0, static () => 0);
        var adapter = LonelyAdapter.Create(follower, Path.Combine(root, "snap"), metrics);
        await using var _ = adapter;
        var log = await RaftLog.OpenAsync(Path.Combine(root, "log"), 1024 * 1024, adapter, null, NullLogger.Instance, CancellationToken.None);
        var wal = log;

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
                await log.AppendAsync(new BinaryLogEntry { Content = payload, Term = 1 }, next++, CancellationToken.None);
            }

            // The commit (and the entries) wake the flusher; the install follows at once, as when the leader
            // truncated its log behind a new snapshot before this follower caught up.
            await log.CommitAsync(next - 1, CancellationToken.None);
            var snapshotIndex = next + 99;
            leader.Apply(snapshotIndex, 1, payload.Span);
            using var image = new SnapshotBuffer();
            leader.WriteSnapshot(image);
            var snapshot = SnapshotFile.Write(leaderSnapshots, snapshotIndex, 1, image);
            await log.AppendAsync(snapshot, snapshotIndex, CancellationToken.None);
            snapshot.Delete();
            next = snapshotIndex + 1;

            Assert.Equal(snapshotIndex, wal.LastCommittedEntryIndex);
        }

        // Still working: one more entry is appended, committed, flushed and applied.
        await log.AppendAsync(new BinaryLogEntry { Content = payload, Term = 1 }, next, CancellationToken.None);
        await log.CommitAsync(next, CancellationToken.None);
        await wal.WaitForApplyAsync(next, CancellationToken.None);
        Assert.Equal(next, follower.AppliedIndex);
        await log.DisposeAsync();

        // Reopened: the newest snapshot, then the entry after it, and the segments behind the snapshot are gone.
        var restarted = new RecordingStateMachine();
        var reopenedAdapter = LonelyAdapter.Create(restarted, Path.Combine(root, "snap"), metrics);
        await using var __ = reopenedAdapter;
        reopenedAdapter.RestoreLatest();
        await using var reopened = await RaftLog.OpenAsync(Path.Combine(root, "log"), 1024 * 1024, reopenedAdapter, null, NullLogger.Instance, CancellationToken.None);
        Assert.Equal(next, reopened.LastEntryIndex);
        Assert.Equal(next, reopened.LastCommittedEntryIndex);
        Assert.Equal(next, restarted.AppliedIndex);
        Assert.True(reopened.Files.Count <= 2, $"{reopened.Files.Count} segments kept behind a snapshot at {next - 1}");
    }

    private static ReadOnlyMemory<byte> Batch(string key)
    {
        var batch = new CommandBatch { FormatVersion = 1 };
        batch.Commands.Add(RecordingStateMachine.Put(key));
        return batch.ToByteArray();
    }
}

using Conclave.Api.Raft;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// What a follower has on disk when it answers AppendEntries. DotNext 6.12's WAL answered after appending and
/// flushing up to the leader's commit index only, so entries past it were acknowledged from memory; when every
/// member then died, the next leader could be elected without them and an acknowledged write was lost (CI,
/// LeaderFaultTests). <see cref="RaftLog"/> must answer only once they are durable. The directory is copied the
/// moment the append returns, which is what survives a kill -9 then.
/// </summary>
public sealed class FollowerAppendDurabilityTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "conclave-append-tests", Guid.NewGuid().ToString("N"));
    private readonly ClusterMetrics metrics = new(static () => 0, static () => 0);

    public void Dispose()
    {
        metrics.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Entries_a_follower_acknowledges_beyond_the_commit_index_are_on_disk_when_the_append_returns()
    {
        var payload = Batch();
        var next = 1L;
        for (var round = 0; round < 20; round++)
        {
            var wal = Path.Combine(root, "log");
            var (log, adapter) = await OpenAsync(wal, Path.Combine(root, "snap"));
            long appended;
            try
            {
                // As RaftCluster's follower path does: the leader's entries through the producer overload with the
                // leader's commit index behind them.
                var entries = Enumerable.Range(0, 50).Select(_ => new BinaryLogEntry { Content = payload, Term = 1 }).ToList();
                await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>(entries), next, skipCommitted: true, CancellationToken.None);
                appended = next + entries.Count - 1;
                DurableFiles.CopyDirectory(wal, Path.Combine(root, $"crash-{round}"));
            }
            finally
            {
                await log.DisposeAsync();
                await adapter.DisposeAsync();
            }

            var (reopened, reopenedAdapter) = await OpenAsync(Path.Combine(root, $"crash-{round}"), Path.Combine(root, $"snap-{round}"));
            try
            {
                Assert.True(
                    reopened.LastEntryIndex >= appended,
                    $"round {round}: the follower answered for entries up to {appended}, its disk held {reopened.LastEntryIndex}");
            }
            finally
            {
                await reopened.DisposeAsync();
                await reopenedAdapter.DisposeAsync();
            }

            next = appended + 1;
        }
    }

    private async Task<(RaftLog Log, SnapshottingStateMachine Adapter)> OpenAsync(string wal, string snapshots)
    {
        var adapter = new SnapshottingStateMachine(new RecordingStateMachine(), snapshots, 1_000_000, 1L << 40, NullLogger.Instance, metrics);
        return (await RaftLog.OpenAsync(wal, 1024 * 1024, adapter, NullLogger.Instance, CancellationToken.None), adapter);
    }

    private static ReadOnlyMemory<byte> Batch()
    {
        var batch = new CommandBatch { FormatVersion = 1 };
        batch.Commands.Add(RecordingStateMachine.Put("k"));
        return batch.ToByteArray();
    }
}

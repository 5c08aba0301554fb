using System.Globalization;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Moves a data directory's Raft log from DotNext's <c>WriteAheadLog</c> format (<c>wal/</c>, written by Conclave
/// before ADR 0007) into <see cref="RaftLog"/>'s (<c>log/</c>), once, before the log is opened.
/// </summary>
/// <remarks>
/// The entries after the newest snapshot, the term and the commit index are copied; the vote is copied when it can
/// be found out (DotNext answers only "did you vote for X"), and otherwise the term is raised by one with no vote,
/// which is always safe (a member may vote once in a term it has not voted in). The new log is written to a
/// temporary directory, made durable, and renamed into place; only then is the old log renamed aside (kept, not
/// deleted). A crash at any point leaves either the old log to migrate again or the new one to use.
/// </remarks>
internal static class LogMigration
{
    private const int EntriesPerFrame = 1024;

    public static async Task MigrateAsync(
        string dataDirectory, string logDirectory, long segmentSize, SnapshottingStateMachine machine, ClusterTopology topology, ILogger logger, CancellationToken token)
    {
        var old = Path.Combine(dataDirectory, "wal");
        if (!Directory.Exists(old))
        {
            return;
        }

        var kept = $"{old}.dotnext-{DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture)}";
        if (Directory.Exists(logDirectory) && Directory.EnumerateFiles(logDirectory, "*.wal").Any())
        {
            // Migrated before a crash that came before the old log was moved aside.
            Directory.Move(old, kept);
            return;
        }

        var temp = logDirectory + ".migrating";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        var source = new MigrationStateMachine(machine.Snapshot);
        // Opened with the chunk size it was written with (WalRecovery finds it from the page files).
        var wal = await WalRecovery.OpenAsync(old, 1024 * 1024, source, logger, token).ConfigureAwait(false);
        long count;
        long term;
        long commit;
        try
        {
            IPersistentState state = wal;
            term = state.Term;
            commit = wal.LastCommittedEntryIndex;
            // DotNext answers only "did you vote for X", and yes for anyone when there is no vote: a made-up id
            // tells the two apart.
            var voted = !state.IsVotedFor(new ClusterMemberId(Random.Shared));
            var vote = voted ? FindVote(state, topology) : null;
            if (voted && vote is null)
            {
                // Voted for someone we cannot name: vote in no term we may have voted in.
                term++;
            }

            var first = source.SnapshotIndex + 1;
            var last = wal.LastEntryIndex;
            count = Math.Max(0, last - first + 1);
            PrivateFiles.CreateDirectory(temp);
            using (var files = LogSegments.Open(temp, segmentSize, source.SnapshotIndex, NoReplay.Instance, logger))
            {
                var batch = new List<StoredEntry>(EntriesPerFrame);
                for (var from = first; from <= last; from += EntriesPerFrame)
                {
                    var to = Math.Min(last, from + EntriesPerFrame - 1);
                    using (var reader = await wal.ReadAsync(from, to, token).ConfigureAwait(false))
                    {
                        foreach (var entry in reader)
                        {
                            if (entry.IsSnapshot)
                            {
                                continue;
                            }

                            var payload = entry.TryGetPayload(out var sequence) && !sequence.IsEmpty
                                ? System.Buffers.BuffersExtensions.ToArray(sequence)
                                : [];
                            batch.Add(new StoredEntry(entry.Index, entry.Term, payload, entry.IsConfiguration, entry.CommandId));
                        }
                    }

                    files.Append(batch, new LogState(term, Math.Min(commit, to), vote));
                    batch.Clear();
                }

                // The state (and, for an empty log, the only frame).
                files.Append([], new LogState(term, Math.Max(commit, source.SnapshotIndex), vote));
            }
        }
        finally
        {
            await wal.DisposeAsync().ConfigureAwait(false);
        }

        if (Directory.Exists(logDirectory))
        {
            Directory.Delete(logDirectory, recursive: true);
        }

        Directory.Move(temp, logDirectory);
        DurableFiles.FlushDirectory(dataDirectory);
        Directory.Move(old, kept);
        DurableFiles.FlushDirectory(dataDirectory);
        Log.WalMigrated(logger, old, count, source.SnapshotIndex, term, commit, logDirectory, kept);
    }

    /// <summary>The member this one voted for (it did vote), if it is one it knows.</summary>
    private static ClusterMemberId? FindVote(IPersistentState state, ClusterTopology topology)
    {
        foreach (var member in topology.Members)
        {
            var id = ClusterMemberId.FromEndPoint(member.EndPoint);
            if (state.IsVotedFor(id))
            {
                return id;
            }
        }

        return null;
    }

    private sealed class NoReplay : IReplaySink
    {
        public static readonly NoReplay Instance = new();

        public void Entry(StoredEntry entry) => throw new InvalidOperationException("A migration writes into an empty directory.");

        public void State(in LogState state) => throw new InvalidOperationException("A migration writes into an empty directory.");
    }
}

/// <summary>Lets DotNext's WAL open a log to be read: it sees the newest snapshot and applies nothing.</summary>
internal sealed class MigrationStateMachine(SnapshotFile? snapshot) : IStateMachine
{
    public ISnapshot? Snapshot => snapshot;

    public long SnapshotIndex => snapshot?.Index ?? 0;

    public ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token) => ValueTask.FromResult(entry.Index);

    public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token) => ValueTask.CompletedTask;
}

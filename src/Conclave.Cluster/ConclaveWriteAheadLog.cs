using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>
/// DotNext's WAL as Conclave configured it before ADR 0007; now opened only to read an old data directory's log
/// during <see cref="LogMigration"/> (see <see cref="WalRecovery"/>). The install guard below is kept with it.
/// </summary>
/// <remarks>
/// <para>
/// Works around a race in DotNext 6.12's WAL (reproduced by <c>SnapshotInstallTests</c>, found by the snapshot
/// catch-up fault test): the background flusher reads the snapshot index <em>before</em> it takes its lock. If an
/// InstallSnapshot runs in between, the flusher then flushes from the old snapshot index up to the new last index,
/// reads the metadata of entries that were never written (the follower's log ended before the new snapshot), throws
/// <c>MissingPageException</c>, and the log stops for good on that member. The flusher only takes its lock when it
/// has work (unflushed entries or an unsaved commit index), and on a follower nothing else appends or commits while
/// an InstallSnapshot is handled (DotNext serializes AppendEntries and InstallSnapshot). So before an install this
/// class waits until the flusher has nothing left to do; then it cannot be caught holding a stale snapshot index.
/// </para>
/// <para>
/// The flusher's progress is private in 6.12; it is read by reflection (the DotNext version is pinned exactly, and
/// the constructor fails loudly if the field is gone).
/// </para>
/// </remarks>
internal sealed class ConclaveWriteAheadLog : WriteAheadLog, IAuditTrail<IRaftLogEntry>
{
    private static readonly FieldInfo FlusherStateField = FindField(typeof(WriteAheadLog), "flusherState");
    private static readonly FieldInfo FlushStateValue = FindField(FlusherStateField.FieldType, "value");
    private static readonly FieldInfo FlushStateVersion = FindField(FlusherStateField.FieldType, "version");
    private static readonly FieldInfo UnflushedIndexField = FindField(FlushStateValue.FieldType, "UnflushedIndex");
    private static readonly FieldInfo FlushedCommitIndexField = FindField(FlushStateValue.FieldType, "FlushedCommitIndex");

    /// <summary>Longest wait for the flusher before an install goes ahead anyway (a stuck disk fails elsewhere).</summary>
    private static readonly TimeSpan QuiesceLimit = TimeSpan.FromSeconds(10);

    private readonly IStateMachine stateMachine;
    private int initialized;

    private ConclaveWriteAheadLog(Options options, IStateMachine stateMachine)
        : base(options, stateMachine)
    {
        this.stateMachine = stateMachine;
    }

    /// <summary>Snapshots go through <see cref="InstallSnapshotAsync"/>; everything else straight to the WAL.</summary>
    ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(TEntry entry, long startIndex, CancellationToken token)
        => entry.IsSnapshot ? InstallSnapshotAsync(entry, startIndex, token) : AppendAsync(entry, startIndex, token);

    /// <summary>
    /// A follower's AppendEntries. DotNext 6.12 answers the leader once the entries are appended and the log is
    /// flushed up to the leader's commit index, so entries past that index were acknowledged while they were only
    /// in this process's memory (the private-memory WAL flushes in the background). The leader counts that answer
    /// toward a majority and acknowledges the client; if every member then dies (kill -9, power loss) before the
    /// follower's flusher runs, the next leader can be elected without the entry and overwrite the old leader's
    /// copy: an acknowledged write lost (seen in CI: LeaderFaultTests, all members killed under writes). Raft
    /// requires the follower to persist before it answers, so this waits for the flush of everything appended.
    /// </summary>
    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        await AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        await FlushAsync(token).ConfigureAwait(false);
    }

    private async ValueTask InstallSnapshotAsync<TEntry>(TEntry snapshot, long startIndex, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        await WaitForIdleFlusherAsync(token).ConfigureAwait(false);
        await AppendAsync(snapshot, startIndex, token).ConfigureAwait(false);
    }

    /// <summary>Waits until every entry is flushed and the commit index is saved, so the flusher has no work.</summary>
    private async Task WaitForIdleFlusherAsync(CancellationToken token)
    {
        var deadline = DateTime.UtcNow + QuiesceLimit;
        while (!IsFlusherIdle() && DateTime.UtcNow < deadline)
        {
            // Wakes the flusher and waits for every appended entry; the commit index is saved in the same pass
            // or the next one, hence the loop.
            await FlushAsync(token).ConfigureAwait(false);
            if (!IsFlusherIdle())
            {
                await Task.Delay(1, token).ConfigureAwait(false);
            }
        }
    }

    private bool IsFlusherIdle()
    {
        // A copy of DotNext's Atomic<FlushState> (a sequence lock): an odd version means a write was in progress.
        var atomic = FlusherStateField.GetValue(this)!;
        if (((nuint)FlushStateVersion.GetValue(atomic)! & 1) != 0)
        {
            return false;
        }

        var state = FlushStateValue.GetValue(atomic)!;
        var unflushed = (long)UnflushedIndexField.GetValue(state)!;
        var flushedCommit = (long)FlushedCommitIndexField.GetValue(state)!;
        var commit = long.Max(stateMachine.Snapshot?.Index ?? 0, LastCommittedEntryIndex);
        return unflushed > LastEntryIndex && flushedCommit == commit;
    }

    // The private fields read here are kept in a trimmed (Native AOT) build by these dependencies.
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.NonPublicFields, typeof(WriteAheadLog))]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.NonPublicFields, "DotNext.Threading.Atomic`1", "DotNext")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.NonPublicFields, "DotNext.Net.Cluster.Consensus.Raft.StateMachine.WriteAheadLog.FlushState", "DotNext.Net.Cluster")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "The fields' types are kept by the DynamicDependency attributes above.")]
    private static FieldInfo FindField(Type type, string name) =>
        type.GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        ?? throw new MissingFieldException(type.FullName, name + " (DotNext's WAL changed: re-check ConclaveWriteAheadLog's install guard)");

    public static async Task<ConclaveWriteAheadLog> OpenAsync(string directory, int chunkSize, IStateMachine stateMachine, CancellationToken cancellationToken)
    {
        var options = CreateOptions(directory, chunkSize);
        var wal = new ConclaveWriteAheadLog(options, stateMachine);
        try
        {
            await wal.InitializeAsync(cancellationToken).ConfigureAwait(false);
            return wal;
        }
        catch
        {
            await wal.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static Options CreateOptions(string directory, int chunkSize) => new()
    {
        Location = directory,
        ChunkSize = chunkSize,
        // Private buffers flushed explicitly: measured 2-3x faster commits than the memory-mapped default here.
        // The live log (everything after the newest snapshot) stays in memory; snapshots bound it.
        MemoryManagement = MemoryManagementStrategy.PrivateMemory,
        // Each entry's metadata carries a hash, checked on open: a damaged log is detected, never replayed.
        HashAlgorithm = IntegrityHashAlgorithm.XxHash64,
    };

    /// <summary>Runs once: RaftCluster.StartAsync calls it again, and the check need not be repeated.</summary>
    public override Task InitializeAsync(CancellationToken token = default) =>
        Interlocked.Exchange(ref initialized, 1) == 0 ? base.InitializeAsync(token) : Task.CompletedTask;
}

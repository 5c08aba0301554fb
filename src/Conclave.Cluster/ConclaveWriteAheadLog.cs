using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>DotNext's WAL configured for Conclave, opened and checked once before Raft starts (see <see cref="WalRecovery"/>).</summary>
internal sealed class ConclaveWriteAheadLog : WriteAheadLog
{
    private int initialized;

    private ConclaveWriteAheadLog(Options options, IStateMachine stateMachine)
        : base(options, stateMachine)
    {
    }

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

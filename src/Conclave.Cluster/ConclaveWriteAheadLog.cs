using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>
/// DotNext's WAL as Conclave configured it before ADR 0007; now opened only to read an old data directory's log
/// during <see cref="LogMigration"/> (through <see cref="WalRecovery"/>, which repairs a damaged one first).
/// </summary>
internal sealed class ConclaveWriteAheadLog : WriteAheadLog
{
    private ConclaveWriteAheadLog(Options options, IStateMachine stateMachine)
        : base(options, stateMachine)
    {
    }

    public static async Task<ConclaveWriteAheadLog> OpenAsync(string directory, int chunkSize, IStateMachine stateMachine, CancellationToken cancellationToken)
    {
        var wal = new ConclaveWriteAheadLog(CreateOptions(directory, chunkSize), stateMachine);
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

    /// <summary>The options the log was written with (a chunk's size is part of the format: see WalRecovery).</summary>
    private static Options CreateOptions(string directory, int chunkSize) => new()
    {
        Location = directory,
        ChunkSize = chunkSize,
        MemoryManagement = MemoryManagementStrategy.PrivateMemory,
        // Each entry's metadata carries a hash, checked on open: a damaged log is detected, never replayed.
        HashAlgorithm = IntegrityHashAlgorithm.XxHash64,
    };
}

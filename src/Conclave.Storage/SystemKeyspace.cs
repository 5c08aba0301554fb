using Conclave.Api.Etcd;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;

namespace Conclave.Storage;

/// <summary>
/// The read side of the store's system keyspace (ADR 0012): the configuration center's and the cluster's records.
/// Same MVCC engine, log, transactions and snapshots as the user keyspace, but its own revision sequence, history and
/// watch signal, and no etcd API reaches it. Writes are commands tagged <c>KEYSPACE_KIND_SYSTEM</c>.
/// </summary>
public sealed class SystemKeyspace
{
    /// <summary>
    /// Revisions of history the state machine keeps at least (and at most twice as many): it compacts the system
    /// keyspace itself as it applies, the same way on every member, since no client compacts it. Readers that fall
    /// behind get a compaction error and read the current state again, as the center does.
    /// </summary>
    public const long RetainedRevisions = 10_000;

    private readonly ReaderWriterLockSlim gate;
    private readonly Keyspace keyspace;

    internal SystemKeyspace(ReaderWriterLockSlim gate, Keyspace keyspace)
    {
        this.gate = gate;
        this.keyspace = keyspace;
    }

    /// <summary>Signals every new revision of the system keyspace (and its compactions) to its watchers.</summary>
    public RevisionSignal Signal { get; } = new();

    /// <summary>The system keyspace's event history.</summary>
    public EventLog Events => keyspace.Events;

    public long Revision => Read(k => k.Revision);

    public long CompactRevision => Read(k => k.CompactRevision);

    public int KeyCount => Read(k => k.KeyCount);

    /// <summary>A range read against the applied state; throws <see cref="Api.Errors.ConclaveErrorException"/> for a bad revision.</summary>
    public RangeResponse Range(RangeRequest request) => Read(k => k.Range(request));

    private T Read<T>(Func<Keyspace, T> read)
    {
        gate.EnterReadLock();
        try
        {
            return read(keyspace);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }
}

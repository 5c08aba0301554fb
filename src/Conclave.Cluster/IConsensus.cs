using Conclave.Api.Raft;

namespace Conclave.Cluster;

/// <summary>
/// Conclave's seam over the Raft engine: the server proposes commands and waits for their results, and
/// asks for read barriers. Everything DotNext-specific stays behind this interface.
/// </summary>
public interface IConsensus : IAsyncDisposable
{
    /// <summary>
    /// Replicates <paramref name="command"/> and returns the state machine's result once the entry holding it
    /// is committed on a majority, flushed to disk and applied on this member.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">No leader, or this member is stopping.</exception>
    ValueTask<object?> ProposeAsync(Command command, CancellationToken cancellationToken = default);

    /// <summary>
    /// Completes once this member's state machine has applied every entry committed before the call, with the
    /// leader's quorum confirmed: a read after this barrier is linearizable.
    /// </summary>
    ValueTask ReadBarrierAsync(CancellationToken cancellationToken = default);

    /// <summary>The current Raft term, cheap enough to read on every response.</summary>
    ulong Term { get; }

    /// <summary>Whether this member leads now; cheap enough for every request.</summary>
    bool IsLeader { get; }

    /// <summary>A point-in-time view of this member's consensus state.</summary>
    ConsensusStatus Status { get; }

    /// <summary>Cancelled when this member stops.</summary>
    CancellationToken Stopping { get; }
}

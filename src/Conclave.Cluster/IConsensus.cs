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

    /// <summary>
    /// Requests of the application that only the leader answers (lease renewals, remaining TTLs, membership changes made
    /// on a follower), carried on the peer listener's request channel.
    /// </summary>
    ILeaderRequests LeaderRequests { get; }

    /// <summary>
    /// Waits for a leader and asks it for its commit index, confirmed with its quorum (Raft's ReadIndex), or null when
    /// this member leads: how far this member trails the leader.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">The member asked does not lead (any more), or this member is a learner.</exception>
    /// <exception cref="Peers.PeerRequestException">The leader could not be reached.</exception>
    ValueTask<long?> LeaderCommitIndexAsync(CancellationToken cancellationToken);

    /// <summary>Membership: the members, changes to them, and learners (<see cref="IMembership"/>).</summary>
    IMembership Membership { get; }

    /// <summary>Whether this member is a learner now (it serves serializable reads and watches only).</summary>
    bool IsLearner { get; }

    /// <summary>Cancelled when this member was removed from the cluster (it should stop, as etcd's does).</summary>
    CancellationToken Removed { get; }

    /// <summary>The cluster's id, cheap enough to read on every response.</summary>
    ulong ClusterId { get; }

    /// <summary>The current Raft term, cheap enough to read on every response.</summary>
    ulong Term { get; }

    /// <summary>
    /// Whether this member leads now; cheap enough for every request, for routing it. State that belongs to one
    /// leadership (and must notice a lose-and-regain) follows <see cref="Leadership"/> instead.
    /// </summary>
    bool IsLeader { get; }

    /// <summary>The leadership this member holds now (term and a token cancelled when it ends), or <see cref="Cluster.Leadership.None"/>.</summary>
    Leadership Leadership { get; }

    /// <summary>
    /// Waits until this member holds a leadership and returns it: at once when it leads now, else when it is next elected
    /// (and its leadership token issued). Work that belongs to each leadership waits here, then follows the token.
    /// </summary>
    ValueTask<Leadership> WaitForLeadershipAsync(CancellationToken cancellationToken);

    /// <summary>A point-in-time view of this member's consensus state.</summary>
    ConsensusStatus Status { get; }

    /// <summary>Cancelled when this member stops.</summary>
    CancellationToken Stopping { get; }
}

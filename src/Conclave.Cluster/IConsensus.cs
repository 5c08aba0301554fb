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

    /// <summary>
    /// The current members with their client URLs (learned from each member's advertised metadata; a member
    /// that was never reachable from here is listed without them).
    /// </summary>
    ValueTask<IReadOnlyList<MemberInfo>> MembersAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Leader only: records a new voting member by peer URL and returns its id at once; the leader brings it in
    /// (replicates the log to it, then commits the configuration with it) once it runs with
    /// <c>--initial-cluster-state existing</c>.
    /// </summary>
    /// <exception cref="MembershipException">Bad URL, already a member, another change in progress, or a learner.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader (<see cref="ConsensusUnavailableException.NotApplied"/>).</exception>
    ValueTask<MemberInfo> AddMemberAsync(string peerUrl, bool isLearner, CancellationToken cancellationToken);

    /// <summary>Leader only: removes a member (or a member still joining) and returns once the change committed.</summary>
    /// <exception cref="MembershipException">No such member, the last member, or another change in progress.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader, or the outcome is unknown.</exception>
    ValueTask RemoveMemberAsync(ulong memberId, CancellationToken cancellationToken);

    /// <summary>
    /// Serves learners with <paramref name="directory"/>, the application's replicated record of which members are
    /// learners: the leader feeds them the committed log (on the peer listener's request channel), any member tells a
    /// member started to join how it is listed. Called once, as the member starts; until then learners are refused.
    /// </summary>
    void ServeLearners(ILearnerDirectory directory);

    /// <summary>
    /// Leader only: turns a learner that follows this leader and holds at least 90% of its log into a voting member;
    /// returns once the configuration with it is committed.
    /// </summary>
    /// <exception cref="MembershipException">The learner is not in sync (or not following), or another change is in progress.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader, or the change did not finish in time (the leader keeps trying).</exception>
    ValueTask PromoteLearnerAsync(ulong memberId, string peerUrl, CancellationToken cancellationToken);

    /// <summary>Ends a learner's feed on this member (after the learner was removed).</summary>
    void DropFollower(ulong memberId);

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

    /// <summary>A point-in-time view of this member's consensus state.</summary>
    ConsensusStatus Status { get; }

    /// <summary>Cancelled when this member stops.</summary>
    CancellationToken Stopping { get; }
}

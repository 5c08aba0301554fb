namespace Conclave.Cluster;

/// <summary>
/// The cluster's membership as Conclave.Cluster keeps it: who the members are, adding and removing them (one change at a
/// time, only on the leader), and learners (fed the log outside the Raft configuration, promoted into it). The server
/// adapts it to etcd's Cluster service; nothing here is gRPC.
/// </summary>
public interface IMembership
{
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

    /// <summary>
    /// Completes at the next change of the Raft configuration (a member joined or left). Read it before looking at the
    /// members, so a change between the look and the wait is not missed.
    /// </summary>
    Task ConfigurationChanged { get; }

    /// <summary>Ends a learner's feed on this member (after the learner was removed).</summary>
    void DropFollower(ulong memberId);
}

using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>
/// This member's view of the configuration and its leader, read from DotNext without asking anyone: the reads the
/// consensus, membership and peer-request parts share.
/// </summary>
internal sealed class ClusterView(RaftCluster cluster, LeaderLink link, ClusterTopology topology, LearnerFollower follower)
{
    /// <summary>Whether this member leads now (DotNext's leadership token is not cancelled).</summary>
    public bool IsLeader => !cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>
    /// The Raft configuration's members. A learner has only the list it was started with, which names itself: it is
    /// not a voting member, so it is left out.
    /// </summary>
    public IEnumerable<RaftClusterMember> ConfiguredMembers() =>
        follower.IsLearner ? cluster.Members.Where(m => !link.IsLocal(m)) : cluster.Members;

    /// <summary>The configuration as this member knows it now (names of members added at runtime may be empty).</summary>
    public MemberInfo[] CurrentMembers() =>
        [.. ConfiguredMembers().Select(m => topology.Find(m.EndPoint)?.ToInfo()
            ?? new MemberInfo(ClusterTopology.MemberId(m.EndPoint), "", [topology.PeerUrlOf(m.EndPoint)], [], IsLearner: false))];

    /// <summary>The configuration's member with id <paramref name="id"/>, or null.</summary>
    public RaftClusterMember? MemberById(ulong id) =>
        cluster.Members.FirstOrDefault(m => ClusterTopology.MemberId(m.EndPoint) == id);

    /// <summary>The refusal of a leader-only request on a member that does not lead (nothing was applied).</summary>
    public ConsensusUnavailableException NotLeaderHere()
    {
        var leader = topology.Find(cluster.Leader?.EndPoint);
        return new ConsensusUnavailableException(
            ConsensusUnavailableReason.NotLeader,
            leader is null ? "This member is not the leader and knows no leader." : $"This member is not the leader; {leader.Name} is.",
            notApplied: true);
    }
}

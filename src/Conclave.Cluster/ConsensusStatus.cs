namespace Conclave.Cluster;

/// <summary>What one member knows about the cluster at one moment.</summary>
/// <param name="ClusterId">Stable id of the cluster (derived from the initial configuration).</param>
/// <param name="MemberId">Stable id of this member.</param>
/// <param name="LeaderId">Id of the current leader, 0 when unknown.</param>
/// <param name="Term">Current Raft term.</param>
/// <param name="CommitIndex">Highest log index known committed.</param>
/// <param name="AppliedIndex">Highest log index applied to the state machine.</param>
/// <param name="Members">The current membership.</param>
/// <param name="IsLearner">Whether this member is a learner (follows the log, does not vote).</param>
public sealed record ConsensusStatus(
    ulong ClusterId,
    ulong MemberId,
    ulong LeaderId,
    ulong Term,
    long CommitIndex,
    long AppliedIndex,
    IReadOnlyList<MemberInfo> Members,
    bool IsLearner = false);

/// <summary>One member of the cluster.</summary>
public sealed record MemberInfo(ulong Id, string Name, IReadOnlyList<string> PeerUrls, IReadOnlyList<string> ClientUrls, bool IsLearner);

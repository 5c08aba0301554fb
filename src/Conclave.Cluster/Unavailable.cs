namespace Conclave.Cluster;

/// <summary>The <see cref="ConsensusUnavailableException"/>s raised in more than one place.</summary>
internal static class Unavailable
{
    public static ConsensusUnavailableException Stopping(Exception? inner = null) => new("This member is stopping.", inner);

    public static ConsensusUnavailableException NotLeader(TopologyMember? leader) => new(leader is null
        ? "No leader is known; retry once the cluster has elected one."
        : $"This member is not the leader; the leader is {leader.Name} ({leader.PeerUrl}). Forwarding is not implemented yet.");
}

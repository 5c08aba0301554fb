using System.Net;

namespace Conclave.Cluster;

/// <summary>One configured member.</summary>
internal sealed record TopologyMember(ulong Id, string Name, string PeerUrl, EndPoint EndPoint, IReadOnlyList<string> ClientUrls)
{
    public MemberInfo ToInfo() => new(Id, Name, [PeerUrl], ClientUrls, IsLearner: false);
}

using System.Net;
using System.Text;

namespace Conclave.Cluster;

/// <summary>
/// The members this node was configured with, their stable ids and Raft endpoints. Ids are derived the way
/// etcd derives them (a hash of what identifies the member), so every member computes the same ids.
/// </summary>
internal sealed class ClusterTopology
{
    private readonly Dictionary<EndPoint, TopologyMember> byEndpoint;

    private ClusterTopology(ulong clusterId, TopologyMember local, IReadOnlyList<TopologyMember> members)
    {
        ClusterId = clusterId;
        Local = local;
        Members = members;
        byEndpoint = members.ToDictionary(static m => m.EndPoint);
    }

    public ulong ClusterId { get; }

    public TopologyMember Local { get; }

    public IReadOnlyList<TopologyMember> Members { get; }

    public TopologyMember? Find(EndPoint? endPoint) =>
        endPoint is not null && byEndpoint.TryGetValue(endPoint, out var member) ? member : null;

    public static ClusterTopology Create(RaftNodeOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.MemberName, nameof(options.MemberName));
        var initial = options.InitialCluster.Count > 0
            ? options.InitialCluster
            : new Dictionary<string, string>
            {
                [options.MemberName] = $"http://{options.PeerEndpoint}",
            };
        if (!initial.ContainsKey(options.MemberName))
        {
            throw new ArgumentException(
                $"InitialCluster must contain this member '{options.MemberName}'; it has: {string.Join(", ", initial.Keys)}.",
                nameof(options));
        }

        var members = initial
            .OrderBy(static p => p.Key, StringComparer.Ordinal)
            .Select(p => new TopologyMember(
                MemberId(p.Key, p.Value),
                p.Key,
                p.Value,
                ParsePeerUrl(p.Key, p.Value),
                p.Key == options.MemberName ? options.ClientUrls : []))
            .ToArray();
        var duplicate = members.GroupBy(static m => m.EndPoint).FirstOrDefault(static g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"InitialCluster members {string.Join(", ", duplicate.Select(static m => m.Name))} share the peer URL {duplicate.First().PeerUrl}.",
                nameof(options));
        }

        var clusterString = string.Join(',', members.Select(static m => $"{m.Name}={m.PeerUrl}"));
        var clusterId = Fnv1a64($"{clusterString}\n{options.InitialClusterToken}");
        return new ClusterTopology(clusterId, members.Single(m => m.Name == options.MemberName), members);
    }

    /// <summary>Stable id of a member: FNV-1a 64 of its name and peer URL (never 0, which means "none").</summary>
    public static ulong MemberId(string name, string peerUrl) => Fnv1a64($"{name}\n{peerUrl}");

    private static EndPoint ParsePeerUrl(string name, string peerUrl)
    {
        if (!Uri.TryCreate(peerUrl, UriKind.Absolute, out var uri) || uri.Port <= 0)
        {
            throw new ArgumentException(
                $"Peer URL '{peerUrl}' of member '{name}' is not an absolute URL with a port (e.g. http://127.0.0.1:2380).");
        }

        return IPAddress.TryParse(uri.Host, out var address)
            ? new IPEndPoint(address, uri.Port)
            : new DnsEndPoint(uri.Host, uri.Port);
    }

    private static ulong Fnv1a64(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }
}

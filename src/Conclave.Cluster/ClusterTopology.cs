using System.Net;
using System.Text;

namespace Conclave.Cluster;

/// <summary>
/// The members this node was configured with, their stable ids and Raft endpoints. A member's id is a hash of its
/// peer address (what identifies a member to Raft), so every member computes the same id for any member, also one
/// added at runtime that it only knows by address.
/// </summary>
internal sealed class ClusterTopology
{
    private readonly Dictionary<EndPoint, TopologyMember> byEndpoint;

    private ClusterTopology(ulong clusterId, TopologyMember local, IReadOnlyList<TopologyMember> members, string peerScheme)
    {
        ClusterId = clusterId;
        PeerScheme = peerScheme;
        Local = local;
        Members = members;
        byEndpoint = members.ToDictionary(static m => m.EndPoint);
    }

    public ulong ClusterId { get; }

    /// <summary><c>https</c> when members speak TLS to each other (<see cref="RaftNodeOptions.PeerTls"/>), else <c>http</c>: the scheme of every peer URL of this cluster.</summary>
    public string PeerScheme { get; }

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
                [options.MemberName] = $"{SchemeOf(options)}://{options.PeerEndpoint}",
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
                MemberId(ParsePeerUrl(p.Key, p.Value)),
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
        return new ClusterTopology(clusterId, members.Single(m => m.Name == options.MemberName), members, SchemeOf(options));
    }

    private static string SchemeOf(RaftNodeOptions options) => options.PeerTls is null ? "http" : "https";

    /// <summary>Stable id of a member: FNV-1a 64 of its peer address <c>host:port</c> (never 0, which means "none").</summary>
    public static ulong MemberId(EndPoint peer) => peer switch
    {
        IPEndPoint ip => Fnv1a64($"{ip.Address}:{ip.Port}"),
        DnsEndPoint dns => Fnv1a64($"{dns.Host.ToLowerInvariant()}:{dns.Port}"),
        _ => Fnv1a64(peer.ToString() ?? ""),
    };

    /// <summary>A peer URL for an endpoint known only by address (a member added at runtime), in this cluster's scheme.</summary>
    public string PeerUrlOf(EndPoint peer) => peer switch
    {
        IPEndPoint ip => $"{PeerScheme}://{(ip.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip.Address}]" : ip.Address.ToString())}:{ip.Port}",
        DnsEndPoint dns => $"{PeerScheme}://{dns.Host}:{dns.Port}",
        _ => $"{PeerScheme}://{peer}",
    };

    /// <summary>The Raft endpoint of a peer URL such as <c>http://10.0.0.1:2380</c>.</summary>
    /// <exception cref="ArgumentException">Not an absolute URL with a port.</exception>
    public static EndPoint ParsePeerUrl(string name, string peerUrl)
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

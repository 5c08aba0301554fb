using System.Net;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The endpoint the server's HTTP/2 host listens on for the peer listener's gRPC connections (not a socket address:
/// the connections are accepted by <see cref="PeerListener"/> and handed over once their preamble says gRPC).
/// </summary>
public sealed class PeerGrpcEndPoint(EndPoint peer) : EndPoint
{
    /// <summary>The peer listener's socket address.</summary>
    public EndPoint Peer { get; } = peer;

    public override string ToString() => $"peer-grpc://{Peer}";
}

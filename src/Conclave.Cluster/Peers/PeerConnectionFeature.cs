using System.Net;

namespace Conclave.Cluster.Peers;

/// <summary>
/// Marks a connection that arrived on the peer listener (and opened with the peer preamble). The server serves
/// member-to-member services only on connections that carry it: trust is a property of the listener.
/// </summary>
public sealed class PeerConnectionFeature(PeerChannel channel, EndPoint? remote)
{
    public PeerChannel Channel { get; } = channel;

    /// <summary>The peer's address as the socket reports it.</summary>
    public EndPoint? Remote { get; } = remote;
}

using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Conclave.Cluster.Peers;

/// <summary>
/// Opens connections to other members' peer listeners: a socket, then the <see cref="PeerPreamble"/> of the channel.
/// Used by DotNext's Raft client (as its <see cref="IConnectionFactory"/>), the snapshot fetch and the request channel.
/// </summary>
internal sealed class PeerConnector : IConnectionFactory
{
    public static PeerConnector Raft { get; } = new();

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new PeerConnection(await OpenAsync(endpoint, PeerChannel.Raft, cancellationToken).ConfigureAwait(false), PeerChannel.Raft);

    /// <summary>A socket connected to <paramref name="endpoint"/>'s peer listener, its preamble for <paramref name="channel"/> sent.</summary>
    public static async Task<Socket> OpenAsync(EndPoint endpoint, PeerChannel channel, CancellationToken cancellationToken)
    {
        var socket = endpoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            await socket.SendAsync(PeerPreamble.For(channel), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

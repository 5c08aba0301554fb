using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Conclave.Cluster.Peers;

/// <summary>
/// Opens connections to other members' peer listeners: a socket, then the <see cref="PeerPreamble"/> of the channel.
/// Used by DotNext's Raft client (as its <see cref="IConnectionFactory"/>) and by the gRPC channels to peers (as their
/// <see cref="SocketsHttpHandler.ConnectCallback"/>).
/// </summary>
internal sealed class PeerConnector : IConnectionFactory
{
    public static PeerConnector Raft { get; } = new();

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new PeerConnection(await OpenAsync(endpoint, PeerChannel.Raft, cancellationToken).ConfigureAwait(false), PeerChannel.Raft);

    /// <summary>A <see cref="SocketsHttpHandler.ConnectCallback"/> for HTTP/2 (gRPC) to a peer listener.</summary>
    public static async ValueTask<Stream> ConnectGrpcAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        new NetworkStream(await OpenAsync(context.DnsEndPoint, PeerChannel.Grpc, cancellationToken).ConfigureAwait(false), ownsSocket: true);

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

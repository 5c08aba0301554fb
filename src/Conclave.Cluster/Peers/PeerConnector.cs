using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Peers;

/// <summary>
/// Opens connections to other members' peer listeners: a socket, TLS when the member's peers speak it
/// (<see cref="PeerTls"/>), then the <see cref="PeerPreamble"/> of the channel. Used by DotNext's Raft client (as its
/// <see cref="IConnectionFactory"/>), the snapshot fetch and the request channel. Without TLS a connection is the
/// socket's own <see cref="NetworkStream"/>, as before TLS existed: the plain path pays nothing for it.
/// </summary>
internal sealed class PeerConnector(PeerTls? tls, ILogger logger, TimeProvider time) : IConnectionFactory
{
    private readonly RefusalWarnings warnings = new(time);

    /// <summary>A connector without TLS (tests, and members whose peer URLs are <c>http://</c>).</summary>
    public static PeerConnector Plain { get; } = new(null, NullLogger.Instance, TimeProvider.System);

    public PeerTls? Tls { get; } = tls;

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        await ConnectAsync(endpoint, PeerChannel.Raft, cancellationToken).ConfigureAwait(false);

    /// <summary>A connection to <paramref name="endpoint"/>'s peer listener for <paramref name="channel"/>, as a <see cref="PeerConnection"/>.</summary>
    /// <exception cref="SocketException">No connection.</exception>
    /// <exception cref="IOException">The connection failed, or its TLS handshake did (<see cref="PeerTlsException"/>, logged here).</exception>
    public async Task<PeerConnection> ConnectAsync(EndPoint endpoint, PeerChannel channel, CancellationToken cancellationToken)
    {
        var (socket, stream) = await OpenCoreAsync(endpoint, channel, cancellationToken).ConfigureAwait(false);
        return new PeerConnection(socket, stream, channel);
    }

    /// <summary>
    /// A stream connected to <paramref name="endpoint"/>'s peer listener (TLS established when configured), its preamble
    /// for <paramref name="channel"/> sent. Disposing it closes the connection.
    /// </summary>
    /// <exception cref="SocketException">No connection.</exception>
    /// <exception cref="IOException">The connection failed, or its TLS handshake did (<see cref="PeerTlsException"/>, logged here).</exception>
    public async Task<Stream> OpenAsync(EndPoint endpoint, PeerChannel channel, CancellationToken cancellationToken) =>
        (await OpenCoreAsync(endpoint, channel, cancellationToken).ConfigureAwait(false)).Stream;

    private async Task<(Socket Socket, Stream Stream)> OpenCoreAsync(EndPoint endpoint, PeerChannel channel, CancellationToken cancellationToken)
    {
        var socket = endpoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream stream;
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        try
        {
            if (Tls is not null)
            {
                stream = await HandshakeAsync(Tls, stream, endpoint, cancellationToken).ConfigureAwait(false);
            }

            await stream.WriteAsync(PeerPreamble.For(channel), cancellationToken).ConfigureAwait(false);
            return (socket, stream);
        }
        catch
        {
            // A failed handshake has disposed the stream already; disposing again is harmless.
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<Stream> HandshakeAsync(PeerTls peerTls, Stream inner, EndPoint endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return await peerTls.ConnectAsync(inner, HostOf(endpoint), cancellationToken).ConfigureAwait(false);
        }
        catch (PeerTlsException e)
        {
            // A certificate this member refused is worth the operator's attention; a connection that broke in the
            // handshake (the other member stopping) is not.
            var peer = endpoint.ToString() ?? "?";
            if (e.CertificateRefused && warnings.ShouldWarn(peer))
            {
                PeerLog.TlsConnectFailed(logger, peer, e.Message);
            }
            else
            {
                PeerLog.TlsFailedAgain(logger, peer, e.Message);
            }

            throw;
        }
    }

    /// <summary>The name the listener's certificate must carry: the host or address of the peer URL.</summary>
    private static string HostOf(EndPoint endpoint) => endpoint switch
    {
        IPEndPoint ip => ip.Address.ToString(),
        DnsEndPoint dns => dns.Host,
        _ => endpoint.ToString() ?? "",
    };
}

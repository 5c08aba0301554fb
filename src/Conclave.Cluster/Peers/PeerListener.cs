using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The member's peer listener (<c>--listen-peer-urls</c>): every member-to-member connection arrives here, opens with
/// the <see cref="PeerPreamble"/>, and is handed to the server of its channel: Raft (DotNext), gRPC
/// (conclave.cluster.v1.Forwarding's learner feed, served by the host's HTTP/2 server on <see cref="GrpcEndPoint"/>),
/// snapshot fetches (<see cref="SnapshotTransfer"/>), or requests between members (<see cref="PeerRequestServer"/>). Nothing on the
/// client port trusts its caller; the peer port trusts whoever completes its handshake. With <see cref="PeerTls"/> and
/// a required client certificate, that is a member holding a certificate from the peers' CA; without, this listener is
/// the trust boundary: keep it on a network only members reach.
/// </summary>
/// <remarks>
/// What it costs a stranger to connect: a connection that has not completed its TLS handshake (when configured) and
/// sent its preamble within <see cref="HandshakeTimeout"/> is closed, at most <see cref="MaxPendingHandshakes"/>
/// handshakes run at once (more are closed at once), and each channel queues at most 64 connections that its server
/// has not taken yet. A refused certificate is logged at Warning once a minute per address.
/// </remarks>
public sealed class PeerListener : IAsyncDisposable
{
    /// <summary>Most connections that may be waiting for their preamble at once.</summary>
    public const int MaxPendingHandshakes = 128;

    private readonly Socket socket;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly PeerConnectionQueue raft;
    private readonly PeerConnectionQueue snapshots;
    private readonly PeerConnectionQueue requests;
    private readonly CancellationTokenSource stopping = new();
    private readonly Meter meter = new(ClusterMetrics.MeterName);
    private readonly Counter<long> accepted;
    private readonly Counter<long> refused;
    private readonly Task acceptLoop;
    private readonly RefusalWarnings warnings;
    private int pendingHandshakes;
    private int disposed;

    private PeerListener(Socket socket, ILoggerFactory loggerFactory, TimeProvider time, TimeSpan handshakeTimeout, PeerTls? tls)
    {
        this.socket = socket;
        this.time = time;
        HandshakeTimeout = handshakeTimeout;
        Tls = tls;
        warnings = new RefusalWarnings(time);
        logger = loggerFactory.CreateLogger<PeerListener>();
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        raft = new PeerConnectionQueue(PeerChannel.Raft, LocalEndPoint);
        snapshots = new PeerConnectionQueue(PeerChannel.Snapshot, LocalEndPoint);
        requests = new PeerConnectionQueue(PeerChannel.Requests, LocalEndPoint);
        accepted = meter.CreateCounter<long>("conclave.cluster.peer.connections", "{connection}", "Connections accepted on the peer listener, by channel");
        refused = meter.CreateCounter<long>("conclave.cluster.peer.refused", "{connection}", "Connections to the peer listener closed without being served (no or a wrong preamble, too slow, too many)");
        acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The bound address (the port resolved when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>How long a new connection may take to complete its TLS handshake (when configured) and send its preamble.</summary>
    public TimeSpan HandshakeTimeout { get; }

    /// <summary>TLS on every connection (the member's peer URLs are <c>https://</c>), or null for plain TCP.</summary>
    public PeerTls? Tls { get; }

    /// <summary>The Raft connections, for DotNext's server (bound at <see cref="LocalEndPoint"/>).</summary>
    internal IConnectionListenerFactory RaftTransport => raft;

    /// <summary>The snapshot fetch connections, for the member's <see cref="SnapshotTransfer"/> server.</summary>
    internal IConnectionListener SnapshotConnections => snapshots;

    /// <summary>The request channel's connections, for the member's <see cref="PeerRequestServer"/>.</summary>
    internal IConnectionListener RequestConnections => requests;

    /// <summary>Binds the peer address and starts accepting (over TLS with <paramref name="tls"/>).</summary>
    /// <exception cref="SocketException">The address is in use or cannot be bound.</exception>
    public static PeerListener Bind(IPEndPoint endpoint, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, TimeSpan? handshakeTimeout = null, PeerTls? tls = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endpoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new PeerListener(socket, loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System, handshakeTimeout ?? TimeSpan.FromSeconds(5), tls);
    }

    private async Task AcceptLoopAsync()
    {
        var token = stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await socket.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection that died in the backlog (reset before it was accepted): keep accepting.
                PeerLog.AcceptFailed(logger, e.SocketErrorCode.ToString());
                continue;
            }

            if (Interlocked.Increment(ref pendingHandshakes) > MaxPendingHandshakes)
            {
                Interlocked.Decrement(ref pendingHandshakes);
                Refuse(client, null, "too many connections waiting for their preamble");
                continue;
            }

            _ = HandshakeAsync(client, token);
        }
    }

    private async Task HandshakeAsync(Socket client, CancellationToken token)
    {
        var remote = client.RemoteEndPoint;
        Stream? stream = null;
        try
        {
            client.NoDelay = true;
            stream = new NetworkStream(client, ownsSocket: true);
            var preamble = new byte[PeerPreamble.Length];
            using (var timeout = new CancellationTokenSource(HandshakeTimeout, time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, token))
            {
                if (Tls is not null)
                {
                    var inner = stream;
                    stream = null; // the handshake owns it now: disposed by it when it fails
                    stream = await Tls.AcceptAsync(inner, linked.Token).ConfigureAwait(false);
                }

                var read = 0;
                while (read < preamble.Length)
                {
                    var n = await stream.ReadAsync(preamble.AsMemory(read), linked.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        Refuse(client, stream, "closed before its preamble", remote);
                        return;
                    }

                    read += n;
                }
            }

            if (!PeerPreamble.TryRead(preamble, out var channel, out var version))
            {
                Refuse(client, stream, version is not 0 and not PeerPreamble.Version ? $"peer protocol version {version}, this member speaks {PeerPreamble.Version}" : "no peer preamble", remote);
                return;
            }

            var connection = new PeerConnection(client, stream, channel);
            var queue = channel switch
            {
                PeerChannel.Raft => raft,
                PeerChannel.Snapshot => snapshots,
                _ => requests,
            };
            if (!queue.TryEnqueue(connection))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                refused.Add(1, new KeyValuePair<string, object?>("reason", "queue"));
                PeerLog.ConnectionRefused(logger, remote?.ToString() ?? "?", $"the {channel} server is not taking connections (queue full or stopped)");
                return;
            }

            accepted.Add(1, new KeyValuePair<string, object?>("channel", channel.ToString().ToLowerInvariant()));
        }
        catch (PeerTlsException e)
        {
            RefuseTls(client, remote, e);
        }
        catch (OperationCanceledException)
        {
            Refuse(client, stream, token.IsCancellationRequested ? "the listener is stopping" : $"no {(Tls is null ? "" : "TLS handshake and ")}preamble within {HandshakeTimeout.TotalMilliseconds:0} ms", remote);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            Refuse(client, stream, e.Message, remote);
        }
        finally
        {
            Interlocked.Decrement(ref pendingHandshakes);
        }
    }

    /// <summary>A failed TLS handshake (its stream already disposed): a refused certificate is logged at Warning, once a minute per address.</summary>
    private void RefuseTls(Socket client, EndPoint? remote, PeerTlsException e)
    {
        var address = (remote as IPEndPoint)?.Address.ToString() ?? remote?.ToString() ?? "?";
        if (!e.CertificateRefused)
        {
            // Not a TLS client at all (a plain-text stranger, a scanner): as any other stranger, at Debug.
            Refuse(client, null, e.Message, remote);
            return;
        }

        refused.Add(1, new KeyValuePair<string, object?>("reason", "certificate"));
        if (warnings.ShouldWarn(address))
        {
            PeerLog.TlsRefused(logger, remote?.ToString() ?? address, e.Message);
        }
        else
        {
            PeerLog.TlsFailedAgain(logger, remote?.ToString() ?? address, e.Message);
        }

        client.Dispose();
    }

    private void Refuse(Socket client, Stream? stream, string reason, EndPoint? remote = null)
    {
        refused.Add(1, new KeyValuePair<string, object?>("reason", "handshake"));
        PeerLog.ConnectionRefused(logger, (remote ?? SafeRemote(client))?.ToString() ?? "?", reason);
        try
        {
            // The stream owns the socket; a TLS stream also frees its native state.
            stream?.Dispose();
            client.Dispose();
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException)
        {
        }
    }

    private static EndPoint? SafeRemote(Socket client)
    {
        try
        {
            return client.RemoteEndPoint;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>Stops accepting and closes the connections no server has taken.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        socket.Dispose();
        await acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await raft.DisposeAsync().ConfigureAwait(false);
        await snapshots.DisposeAsync().ConfigureAwait(false);
        await requests.DisposeAsync().ConfigureAwait(false);
        meter.Dispose();
    }
}

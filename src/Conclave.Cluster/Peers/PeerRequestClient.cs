using System.Net;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>
/// Requests to one member's request channel over one persistent connection, opened when first needed and again after
/// it dropped. Requests are pipelined on it: a busy follower's forwarded batches do not wait for each other's answers.
/// </summary>
internal sealed class PeerRequestClient(EndPoint peer, PeerRequestOptions options, PeerConnector connector, ClusterMetrics metrics, ILogger logger) : IAsyncDisposable
{
    private readonly SemaphoreSlim connecting = new(1, 1);
    private readonly string name = peer.ToString() ?? "?";
    private PeerRequestConnection? current;
    private bool disposed;

    public EndPoint Peer { get; } = peer;

    /// <summary>Sends a request and returns its answer's payload.</summary>
    /// <exception cref="PeerRequestException">
    /// No connection could be made (<see cref="PeerRequestException.Sent"/> false), or it dropped after the request was
    /// written (outcome unknown).
    /// </exception>
    /// <exception cref="ConsensusUnavailableException">The other member refused or failed (as it reported).</exception>
    /// <exception cref="ArgumentException">The other member refused the request as bad.</exception>
    public async ValueTask<byte[]> SendAsync(PeerRequestKind kind, ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var tag = new KeyValuePair<string, object?>("kind", KindName(kind));
        metrics.PeerRequests.Add(1, tag);
        try
        {
            // A connection found dropped before anything was written on it is replaced once: nothing was sent.
            for (var attempt = 0; ; attempt++)
            {
                var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
                var answer = await connection.SendAsync(kind, head, body, cancellationToken).ConfigureAwait(false);
                if (answer is not null)
                {
                    return answer;
                }

                if (attempt > 0)
                {
                    throw new PeerRequestException($"The connection to the member at {name} keeps dropping; the request was not sent.", sent: false);
                }
            }
        }
        catch (Exception e)
        {
            metrics.PeerRequestFailures.Add(1, tag, new KeyValuePair<string, object?>("error", ErrorName(e)));
            throw;
        }
    }

    private async ValueTask<PeerRequestConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = Volatile.Read(ref current);
        if (connection is { IsClosed: false })
        {
            return connection;
        }

        await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            connection = current;
            if (connection is { IsClosed: false })
            {
                return connection;
            }

            if (connection is not null)
            {
                _ = connection.DisposeAsync().AsTask();
            }

            using var timeout = new CancellationTokenSource(options.ConnectTimeout, options.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            PeerConnection opened;
            try
            {
                opened = await connector.ConnectAsync(Peer, PeerChannel.Requests, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new PeerRequestException($"No connection to the member at {name} within {options.ConnectTimeout.TotalMilliseconds:0} ms; the request was not sent.", sent: false, e);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                throw new PeerRequestException($"No connection to the member at {name} ({e.Message}); the request was not sent.", sent: false, e);
            }

            PeerLog.RequestConnected(logger, name);
            connection = new PeerRequestConnection(opened, name, options, logger);
            Volatile.Write(ref current, connection);
            return connection;
        }
        finally
        {
            connecting.Release();
        }
    }

    /// <summary>Closes the connection now (tests: a dropped connection); the next request opens another.</summary>
    internal void DropConnection()
    {
        if (Volatile.Read(ref current) is { } connection)
        {
            _ = connection.DisposeAsync().AsTask();
        }
    }

    public static string KindName(PeerRequestKind kind) => kind switch
    {
        PeerRequestKind.Propose => "propose",
        PeerRequestKind.ReadIndex => "read_index",
        PeerRequestKind.Removed => "removed",
        PeerRequestKind.Configuration => "configuration",
        PeerRequestKind.Follow => "follow",
        PeerRequestKind.Role => "role",
        PeerRequestKind.Join => "join",
        PeerRequestKind.HoldSnapshot => "hold_snapshot",
        PeerRequestKind.Application => "application",
        _ => "unknown",
    };

    private static string ErrorName(Exception e) => e switch
    {
        PeerRequestException { Sent: false } => "unreachable",
        PeerRequestException => "connection_lost",
        ConsensusUnavailableException { NotApplied: true } => "not_applied",
        ConsensusUnavailableException => "unavailable",
        ArgumentException => "refused",
        OperationCanceledException => "cancelled",
        _ => "failed",
    };

    public async ValueTask DisposeAsync()
    {
        await connecting.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        disposed = true;
        var connection = current;
        current = null;
        connecting.Release();
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

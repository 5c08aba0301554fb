using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The accepted connections of one <see cref="PeerChannel"/>, handed to whoever serves that channel (DotNext's Raft
/// server, or Kestrel for gRPC) as a connection listener bound to <see cref="EndPoint"/>. Bounded: when the consumer
/// does not keep up (or has not started yet), further connections are closed and the peer connects again.
/// </summary>
internal sealed class PeerConnectionQueue : IConnectionListenerFactory, IConnectionListenerFactorySelector, IConnectionListener
{
    private const int Capacity = 64;
    private readonly Channel<PeerConnection> queue = System.Threading.Channels.Channel.CreateBounded<PeerConnection>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = false, SingleWriter = true });

    private readonly CancellationTokenSource unbound = new();

    public PeerConnectionQueue(PeerChannel channel, EndPoint endPoint)
    {
        Channel = channel;
        EndPoint = endPoint;
    }

    public PeerChannel Channel { get; }

    /// <summary>The endpoint a consumer binds to get these connections.</summary>
    public EndPoint EndPoint { get; }

    /// <summary>Queues an accepted connection; false (and the caller closes it) when the queue is full or closed.</summary>
    public bool TryEnqueue(PeerConnection connection) => !unbound.IsCancellationRequested && queue.Writer.TryWrite(connection);

    public bool CanBind(EndPoint endpoint) => ReferenceEquals(endpoint, EndPoint) || Equals(endpoint, EndPoint);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (!CanBind(endpoint))
        {
            throw new NotSupportedException($"The peer {Channel} connections are bound at {EndPoint}, not {endpoint}.");
        }

        return ValueTask.FromResult<IConnectionListener>(this);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, unbound.Token);
            return await queue.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (unbound.IsCancellationRequested)
        {
            return null;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => new(unbound.CancelAsync());

    /// <summary>Stops handing out connections and closes those still queued.</summary>
    public async ValueTask DisposeAsync()
    {
        await unbound.CancelAsync().ConfigureAwait(false);
        queue.Writer.TryComplete();
        while (queue.Reader.TryRead(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

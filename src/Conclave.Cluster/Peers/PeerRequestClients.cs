using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>This member's <see cref="PeerRequestClient"/>s, one per peer address it has sent requests to.</summary>
/// <param name="connector">How connections are opened (TLS or not); plain TCP when null.</param>
internal sealed class PeerRequestClients(PeerRequestOptions options, ClusterMetrics metrics, ILogger logger, PeerConnector? connector = null) : IAsyncDisposable
{
    private readonly PeerConnector connector = connector ?? PeerConnector.Plain;
    private readonly ConcurrentDictionary<EndPoint, PeerRequestClient> clients = new();
    private readonly ClusterMetrics metrics = metrics;
    private readonly ILogger logger = logger;

    public PeerRequestOptions Options { get; } = options;

    public PeerRequestClient For(EndPoint peer) =>
        clients.GetOrAdd(peer, static (p, s) => new PeerRequestClient(p, s.Options, s.connector, s.metrics, s.logger), this);

    public async ValueTask DisposeAsync()
    {
        foreach (var client in clients.Values)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}

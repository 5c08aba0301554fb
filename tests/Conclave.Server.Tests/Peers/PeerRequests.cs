using System.Buffers.Binary;
using System.Net;
using Conclave.Cluster;
using Conclave.Cluster.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Tests.Peers;

/// <summary>Requests on a member's request channel (ADR 0013), sent as members send them.</summary>
internal sealed class PeerRequests : IAsyncDisposable
{
    private readonly ClusterMetrics metrics = new(() => 0, () => 0, () => 0);
    private readonly PeerRequestClients clients;

    public PeerRequests() => clients = new PeerRequestClients(new PeerRequestOptions { MaxPayloadBytes = 8 * 1024 * 1024 }, metrics, NullLogger.Instance);

    public static EndPoint EndPointOf(string peerUrl)
    {
        var uri = new Uri(peerUrl);
        return new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
    }

    /// <summary>A forwarded batch, as a follower sends it to the leader.</summary>
    public Task ProposeAsync(string peerUrl, ulong fromMember, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken = default) =>
        clients.ProposeAsync(EndPointOf(peerUrl), fromMember, batch, cancellationToken);

    /// <summary>A removal notice, as the leader sends it to a member it removed.</summary>
    public async Task RemovedAsync(string peerUrl, ulong memberId, CancellationToken cancellationToken = default)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, memberId);
        await clients.For(EndPointOf(peerUrl)).SendAsync(PeerRequestKind.Removed, head, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    /// <summary>A member's view of its configuration.</summary>
    public async Task<Api.ClusterInternal.ConfigurationResponse> ConfigurationAsync(string peerUrl, CancellationToken cancellationToken = default) =>
        Api.ClusterInternal.ConfigurationResponse.Parser.ParseFrom(
            await clients.For(EndPointOf(peerUrl)).SendAsync(PeerRequestKind.Configuration, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, cancellationToken));

    public async ValueTask DisposeAsync()
    {
        await clients.DisposeAsync();
        metrics.Dispose();
    }
}

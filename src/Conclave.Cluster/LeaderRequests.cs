using System.Collections.Concurrent;
using System.Text;
using Conclave.Cluster.Peers;

namespace Conclave.Cluster;

/// <summary>
/// <see cref="ILeaderRequests"/> over the request channel: the kind's name travels in front of the application's
/// bytes (<c>name length u8 | name (ASCII, 1 to 64 bytes) | body</c>), and the handlers registered here answer the
/// requests other members send.
/// </summary>
internal sealed class LeaderRequests(LeaderLink link, PeerRequestClients clients, Func<Exception?> refusal) : ILeaderRequests
{
    public const int MaxKindLength = 64;

    private readonly ConcurrentDictionary<string, LeaderRequestHandler> handlers = new(StringComparer.Ordinal);

    public async ValueTask<ReadOnlyMemory<byte>?> SendToLeaderAsync(string kind, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        var head = Head(kind);
        if (refusal() is { } refused)
        {
            throw refused;
        }

        var leader = await link.WaitForLeaderAsync(cancellationToken).ConfigureAwait(false);
        if (link.IsLocal(leader))
        {
            return null;
        }

        return await clients.For(leader.EndPoint).SendAsync(PeerRequestKind.Application, head, request, cancellationToken).ConfigureAwait(false);
    }

    public void Handle(string kind, LeaderRequestHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _ = Head(kind);
        if (!handlers.TryAdd(kind, handler))
        {
            throw new InvalidOperationException($"requests of kind '{kind}' already have a handler");
        }
    }

    /// <summary>Serves an application request that arrived on the request channel.</summary>
    public ValueTask<ReadOnlyMemory<byte>> ServeAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var span = payload.Span;
        if (span.Length < 1 || span[0] is 0 or > MaxKindLength || span.Length < 1 + span[0])
        {
            throw new ArgumentException("an application request without a valid kind");
        }

        var kind = Encoding.ASCII.GetString(span.Slice(1, span[0]));
        if (!handlers.TryGetValue(kind, out var handler))
        {
            throw new NotSupportedException($"no handler for requests of kind '{kind}'");
        }

        return handler(payload[(1 + span[0])..], cancellationToken);
    }

    private static byte[] Head(string kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        if (kind.Length > MaxKindLength || !Ascii.IsValid(kind))
        {
            throw new ArgumentException($"a request kind is 1 to {MaxKindLength} ASCII characters: '{kind}'", nameof(kind));
        }

        var head = new byte[1 + kind.Length];
        head[0] = (byte)kind.Length;
        Encoding.ASCII.GetBytes(kind, head.AsSpan(1));
        return head;
    }
}

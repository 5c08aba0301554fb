namespace Conclave.Cluster.Peers;

/// <summary>Limits and timing of the request channel (ADR 0013), the same on both sides.</summary>
internal sealed record PeerRequestOptions
{
    /// <summary>Headroom over the largest forwarded batch for a request's own fields and an application request.</summary>
    public const int PayloadHeadroom = 64 * 1024;

    /// <summary>Largest payload of one frame; a frame that announces more closes the connection before it is read.</summary>
    public required int MaxPayloadBytes { get; init; }

    /// <summary>Requests one connection may have in progress on the serving member; more wait unread (TCP pushes back).</summary>
    public int MaxConcurrentRequests { get; init; } = 256;

    /// <summary>How long opening a connection (with its preamble) may take before the request fails as never sent.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long requests wait without any byte from the other member before a ping goes out.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after an unanswered ping the connection is closed (its requests' outcome unknown).</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The channel's limits for a member with these options: a forwarded batch plus headroom.</summary>
    public static PeerRequestOptions For(RaftNodeOptions options) => new()
    {
        MaxPayloadBytes = options.MaxForwardedBatchBytes + 8 + PayloadHeadroom,
        TimeProvider = options.TimeProvider,
    };
}

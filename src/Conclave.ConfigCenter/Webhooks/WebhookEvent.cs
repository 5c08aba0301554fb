using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// The JSON body of a webhook request (format version 1). <see cref="Id"/> is the idempotency key: derived from the
/// revision of the audit entry the event comes from, so every attempt, redelivery and leader sends the same one.
/// </summary>
public sealed record WebhookEvent
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string Id { get; init; }

    /// <summary>The audit action (<c>release.publish</c>, <c>gray.promote</c>, <c>instance.reject</c>, ...) or <c>ping</c>.</summary>
    public required string Type { get; init; }

    public required string App { get; init; }

    public string? Env { get; init; }

    public string? Namespace { get; init; }

    /// <summary>What the change was made to, as the audit names it (<c>app/env/ns</c>).</summary>
    public string Target { get; init; } = "";

    /// <summary>Who made the change (the authenticated user, or the declared author while auth is disabled).</summary>
    public string Actor { get; init; } = "";

    public required DateTimeOffset At { get; init; }

    /// <summary>The audit entry's detail (release title, rule, request number, rejection reason); secrets are masked there already.</summary>
    public string Detail { get; init; } = "";

    public string? RequestId { get; init; }

    /// <summary>The keyspace revision of the change (0 for a ping).</summary>
    public long Revision { get; init; }

    /// <summary>The namespace's main release right after the change, when the event concerns a namespace.</summary>
    public long? ReleaseId { get; init; }

    /// <summary>The namespace's gray release right after the change, when one is active.</summary>
    public long? GrayReleaseId { get; init; }
}

using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// One event for one webhook, at <c>config/v1/webhook-deliveries/{app}/{webhook}/{eventId}</c>: the exact body sent on
/// every attempt (so the signature and the idempotency key never change), and what the attempts found.
/// </summary>
public sealed record WebhookDelivery
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string WebhookId { get; init; }

    /// <summary>The idempotency key: the same on every attempt, redelivery and leader.</summary>
    public required string EventId { get; init; }

    public required string EventType { get; init; }

    /// <summary>The JSON body sent.</summary>
    public required string Payload { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public WebhookDeliveryState State { get; set; } = WebhookDeliveryState.Pending;

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public DateTimeOffset? LastAttemptAt { get; set; }

    /// <summary>The HTTP status of the last answer; null when none came (refused, timed out).</summary>
    public int? LastStatus { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }
}

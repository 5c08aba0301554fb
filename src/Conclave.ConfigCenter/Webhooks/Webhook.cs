using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// One subscription of an HTTP(S) endpoint to an app's configuration events (ADR 0016), at <c>config/v1/webhooks/{app}/{id}</c>.
/// The signing secret is kept so the leader can sign: wrapped under the member's master key when one is configured
/// (<see cref="WrappedSecret"/>), else as it is (<see cref="Secret"/>). Never handed out: views use <see cref="WebhookView"/>.
/// </summary>
public sealed record Webhook
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Id { get; init; }

    public required string Url { get; init; }

    /// <summary>Only events of this environment; null: every environment.</summary>
    public string? Env { get; init; }

    /// <summary>Only events of this namespace; null: every namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>Event types or families (<c>gray.*</c>); empty: <see cref="WebhookEvents.Default"/>.</summary>
    public IReadOnlyList<string> Events { get; set; } = [];

    public string Description { get; set; } = "";

    /// <summary>The secret as base64url, when the member has no master key.</summary>
    public string? Secret { get; init; }

    /// <summary>The secret wrapped under <see cref="MasterKeyId"/> (base64), bound to the webhook's identity.</summary>
    public string? WrappedSecret { get; init; }

    public string? MasterKeyId { get; init; }

    /// <summary>The last 4 characters of the secret, so a person can tell two secrets apart.</summary>
    public string Hint { get; set; } = "";

    public required DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }

    /// <summary>The keyspace revision the webhook was created at (from the record's create revision): it receives only later events.</summary>
    [JsonIgnore]
    public long CreateRevision { get; init; }
}

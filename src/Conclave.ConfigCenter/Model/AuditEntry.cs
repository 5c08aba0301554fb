using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>Who changed what, when, and from where. Written in the same transaction as the change.</summary>
public sealed record AuditEntry
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required DateTimeOffset At { get; init; }

    public required string Author { get; init; }

    public string? From { get; init; }

    /// <summary>The request that made the change (the caller's <c>X-Request-Id</c>, or the member's own id for it).</summary>
    public string? RequestId { get; init; }

    public required string Action { get; init; }

    public required string Target { get; init; }

    public string Detail { get; set; } = "";
}

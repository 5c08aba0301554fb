using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>What one instance last reported for one namespace. Tied to a lease: it vanishes when the instance stops reporting.</summary>
public sealed record InstanceRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string InstanceId { get; init; }

    public IReadOnlyList<string> Labels { get; set; } = [];

    public required long ReleaseId { get; init; }

    public required DeliveryStatus Status { get; init; }

    public string? Reason { get; init; }

    public required DateTimeOffset ReportedAt { get; init; }

    public string? From { get; init; }

    public long LeaseId { get; init; }
}

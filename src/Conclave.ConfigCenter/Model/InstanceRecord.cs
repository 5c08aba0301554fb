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

    /// <summary>For a flags namespace: the instance's evaluations per flag and variant since it started (its last report's totals).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<FlagEvaluationTotal>? FlagEvaluations { get; init; }
}

/// <summary>How often an instance served <see cref="Variant"/> of <see cref="Flag"/> since it started.</summary>
public sealed record FlagEvaluationTotal(string Flag, string Variant, long Total);

/// <summary>What an instance reports for one flag and variant: totals since it started, and since its previous report.</summary>
public readonly record struct FlagEvaluationCount(string Flag, string Variant, long Total, long Recent);

using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>An environment of an app (DEV, FAT, UAT, PRO, ...).</summary>
public sealed record EnvironmentRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Name { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }
}

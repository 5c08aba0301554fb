using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>An application: the owner of environments and namespaces.</summary>
public sealed record AppRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string Owner { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }
}

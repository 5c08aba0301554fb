using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// The export file (format version 1): the working copies of some or all namespaces of an app's environments,
/// with each one's main release for reference. Importing writes working copies only; publishing is separate.
/// </summary>
public sealed record ConfigExport
{
    /// <summary>What this file is, so a wrong file is refused by name rather than by a parse error.</summary>
    public const string KindName = "conclave.config.export";

    public string Kind { get; set; } = KindName;

    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public DateTimeOffset ExportedAt { get; init; }

    public IReadOnlyList<EnvironmentExport> Environments { get; set; } = [];
}

using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>An immutable snapshot of a namespace's working copy. Ids grow by one per namespace.</summary>
public sealed record ReleaseRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Env { get; init; }

    public required string Namespace { get; init; }

    public required long Id { get; init; }

    public required ReleaseKind Kind { get; init; }

    public required NamespaceFormat Format { get; init; }

    public string Title { get; set; } = "";

    public string Comment { get; set; } = "";

    public required string Author { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The document as published (properties rendered as <c>key=value</c> lines).</summary>
    public required string Content { get; init; }

    /// <summary>For properties: the key/value map.</summary>
    public IReadOnlyDictionary<string, string> Configurations { get; set; } = new Dictionary<string, string>();

    /// <summary>Lower-case hex SHA-256 of <see cref="Content"/>.</summary>
    public required string ContentHash { get; init; }

    /// <summary>For properties: the keys whose values are sealed (in <see cref="Content"/> and <see cref="Configurations"/>).</summary>
    public IReadOnlyList<string> SecretKeys { get; set; } = [];

    /// <summary>For json, yaml and text: the whole <see cref="Content"/> is sealed.</summary>
    public bool Sealed { get; init; }

    /// <summary>For a rollback: the release whose content it restores.</summary>
    public long? RollbackOf { get; init; }

    /// <summary>Who approved the release request this release came from (ADR 0015); null: published directly.</summary>
    public string? ApprovedBy { get; set; }
}

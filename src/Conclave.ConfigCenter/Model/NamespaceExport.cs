namespace Conclave.ConfigCenter.Model;

/// <summary>
/// One namespace in an export file: its format, schema and working copy (items for properties, the document
/// otherwise). <see cref="HeadReleaseId"/> and <see cref="HeadContentHash"/> say what was released when it was
/// exported; import ignores them.
/// </summary>
public sealed record NamespaceExport
{
    public required string Name { get; init; }

    public required NamespaceFormat Format { get; init; }

    public string? Schema { get; init; }

    /// <summary>Other apps may associate it (import creates it public).</summary>
    public bool IsPublic { get; init; }

    /// <summary>Set for an association of another app's public namespace; such namespaces are exported, not imported.</summary>
    public string? BaseApp { get; init; }

    /// <summary>Every value is secret (the namespace was created secret).</summary>
    public bool Secret { get; init; }

    /// <summary>
    /// When the namespace holds secrets: its data keys, wrapped by the exporting cluster's master key. Sealed values stay
    /// sealed in the file; a cluster with the same master key opens them at import.
    /// </summary>
    public Secrets.DataKeyRecord? DataKeys { get; init; }

    public IReadOnlyList<ConfigItem> Items { get; set; } = [];

    public string Content { get; set; } = "";

    public long HeadReleaseId { get; init; }

    public string? HeadContentHash { get; init; }
}

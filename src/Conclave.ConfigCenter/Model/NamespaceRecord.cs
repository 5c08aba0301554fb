using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// A namespace: its format, optional JSON Schema, working copy (items for properties, one document otherwise),
/// and the head pointers clients are served from (<see cref="HeadReleaseId"/>, <see cref="Gray"/>).
/// </summary>
public sealed record NamespaceRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Env { get; init; }

    public required string Name { get; init; }

    public required NamespaceFormat Format { get; init; }

    public string? Schema { get; init; }

    /// <summary>Other apps may associate this namespace (same environment and name) and override its keys.</summary>
    public bool IsPublic { get; init; }

    /// <summary>
    /// Every value is secret: each item of a properties namespace, the whole document otherwise, is sealed before it is
    /// stored (ADR 0015). Set at creation.
    /// </summary>
    public bool Secret { get; init; }

    /// <summary>
    /// For an association: the app whose public namespace of the same name and environment this one builds on.
    /// Its own releases hold the overrides; clients get the base's effective release with them applied.
    /// </summary>
    public string? BaseApp { get; init; }

    /// <summary>Working copy of a properties namespace, in order.</summary>
    public IReadOnlyList<ConfigItem> Items { get; set; } = [];

    /// <summary>Working copy of a json, yaml or text namespace.</summary>
    public string Content { get; set; } = "";

    /// <summary>The main release clients get; 0 before the first publish.</summary>
    public long HeadReleaseId { get; init; }

    public GrayState? Gray { get; init; }

    /// <summary>The namespace's latest rollout plan: the one driving <see cref="Gray"/> while active, else how the last one ended.</summary>
    public RolloutPlan? Rollout { get; init; }

    /// <summary>Apollo's switch: whoever changed the working copy since the last release may not publish it (ADR 0015).</summary>
    public bool SeparateEditAndRelease { get; set; }

    /// <summary>A publish becomes a request that another person with the release permission approves (ADR 0015).</summary>
    public bool RequireApproval { get; set; }

    /// <summary>The last release request's id; 0 before the first.</summary>
    public long LastRequestId { get; set; }

    /// <summary>Who changed the working copy since the last release (the newest last, at most 64 names).</summary>
    public IReadOnlyList<string> Editors { get; set; } = [];

    public long LastReleaseId { get; init; }

    public long LastHistoryId { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public required string UpdatedBy { get; init; }

    /// <summary>The keyspace revision this record was last written at: pass it back to guard an edit.</summary>
    [JsonIgnore]
    public long Revision { get; init; }

    /// <summary>The keyspace revision the namespace was created at: tells a re-created namespace from the old one.</summary>
    [JsonIgnore]
    public long CreateRevision { get; init; }
}

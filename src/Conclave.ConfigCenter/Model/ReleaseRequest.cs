using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

[JsonConverter(typeof(JsonStringEnumConverter<ReleaseRequestStatus>))]
public enum ReleaseRequestStatus
{
    Pending,
    Approved,
    Rejected,
}

/// <summary>
/// A publish waiting for a second person (ADR 0015): the working copy as it was when the release was requested, who
/// asked, and what was decided. Ids grow by one per namespace.
/// </summary>
public sealed record ReleaseRequest
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required string App { get; init; }

    public required string Env { get; init; }

    public required string Namespace { get; init; }

    public required long Id { get; init; }

    public string Title { get; set; } = "";

    public string Comment { get; set; } = "";

    public required string RequestedBy { get; init; }

    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>The document that will ship if approved (properties rendered as lines).</summary>
    public required string Content { get; init; }

    /// <summary>For properties: the key/value map that will ship.</summary>
    public IReadOnlyDictionary<string, string> Configurations { get; set; } = new Dictionary<string, string>();

    /// <summary>SHA-256 of <see cref="Content"/>: an approval is refused once the working copy no longer matches it.</summary>
    public required string ContentHash { get; init; }

    public ReleaseRequestStatus Status { get; set; } = ReleaseRequestStatus.Pending;

    public string? DecidedBy { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public string DecisionComment { get; set; } = "";

    /// <summary>The release an approval published.</summary>
    public long? ReleaseId { get; set; }
}

/// <summary>A publish's outcome: the release, or (when the namespace requires approval) the request filed instead.</summary>
public sealed record PublishOutcome(ReleaseRecord? Release, ReleaseRequest? Request);

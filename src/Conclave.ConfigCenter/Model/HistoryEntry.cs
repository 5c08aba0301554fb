using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>One change of what a namespace serves: publish, rollback, gray publish/rule/promote/abandon.</summary>
public sealed record HistoryEntry
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    public required long Id { get; init; }

    /// <summary><c>publish</c>, <c>rollback</c>, <c>gray-publish</c>, <c>gray-rule</c>, <c>gray-promote</c> or <c>gray-abandon</c>.</summary>
    public required string Operation { get; init; }

    public required long ReleaseId { get; init; }

    public long PreviousReleaseId { get; init; }

    public GrayRule? Rule { get; init; }

    public required string Author { get; init; }

    public required DateTimeOffset At { get; init; }

    public string Comment { get; set; } = "";
}

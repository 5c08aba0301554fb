using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// The day (UTC) each flag of a flags namespace was last evaluated by any instance, kept beyond the instances' own
/// records so that a flag nobody evaluates any more is seen as stale after the fleet restarts. Written at most once
/// per flag and day by each member (docs/feature-flags.md, "Evaluation insight").
/// </summary>
public sealed record FlagUsageRecord
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    /// <summary>Flag name to the UTC day it was last evaluated (midnight of that day).</summary>
    public Dictionary<string, DateTimeOffset> LastEvaluated { get; init; } = new(StringComparer.Ordinal);

    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>What a namespace's fleet serves of one flag (GET .../flags/usage).</summary>
/// <param name="Flag">The flag, from the namespace's main release.</param>
/// <param name="Variants">Evaluations per variant, summed over the live instances' totals since they started.</param>
/// <param name="Instances">Live instances that evaluated the flag.</param>
/// <param name="LastEvaluated">The UTC day any instance last evaluated it; null if none has since usage was recorded.</param>
/// <param name="Stale">Not evaluated within the stale period (or never, in a release older than that period).</param>
public sealed record FlagUsage(string Flag, IReadOnlyDictionary<string, long> Variants, int Instances, DateTimeOffset? LastEvaluated, bool Stale);

/// <summary>The fleet's use of a flags namespace's flags.</summary>
/// <param name="ReleaseId">The main release whose flags are listed.</param>
/// <param name="StaleDays">The stale period used.</param>
/// <param name="Flags">One entry per flag of the release, in name order.</param>
public sealed record FlagUsageReport(long ReleaseId, int StaleDays, IReadOnlyList<FlagUsage> Flags);

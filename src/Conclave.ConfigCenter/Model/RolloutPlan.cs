using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>
/// A progressive rollout of a gray release (AWS AppConfig's deployment strategies, plus automatic halt): the gray rule's
/// percentage goes through <see cref="Steps"/>, each held for its bake time; the plan advances by itself, promotes the
/// release after the last step (100%), and halts and rolls back (abandons the gray release: every instance returns to the
/// main release) when the share of the cohort's reports that rejected the release, or said the app is unhealthy after
/// applying it, passes a limit. Kept on the namespace record, so every step is one guarded change of that record: a
/// leader change or two drivers never run a step twice, and the plan survives restarts.
/// </summary>
public sealed record RolloutPlan
{
    /// <summary>The gray release the plan rolls out.</summary>
    public required long ReleaseId { get; init; }

    public required IReadOnlyList<RolloutStep> Steps { get; init; }

    /// <summary>The current step (an index into <see cref="Steps"/>).</summary>
    public int Step { get; init; }

    /// <summary>When the current step began (its bake time counts from here, less the time it was paused).</summary>
    public required DateTimeOffset StepStartedAt { get; init; }

    /// <summary>Bake time of the current step spent before a pause; the step ends when this plus the time since <see cref="StepStartedAt"/> reaches its bake.</summary>
    public double BakedSeconds { get; init; }

    public RolloutStatus Status { get; init; } = RolloutStatus.Running;

    /// <summary>Halt when more than this share (percent) of the cohort's reports for the release rejected it.</summary>
    public double MaxRejectedPercent { get; init; } = 5;

    /// <summary>Halt when more than this share (percent) of the cohort's reports said the app is unhealthy after applying it.</summary>
    public double MaxUnhealthyPercent { get; init; } = 5;

    /// <summary>Reports of the release needed before the shares are judged (a single early rejection of a large cohort is noise).</summary>
    public int MinReports { get; init; } = 1;

    public required string StartedBy { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Why the plan stopped (halted, aborted, completed), in words.</summary>
    public string? Outcome { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>What each finished step saw when it ended: the timeline the console draws.</summary>
    public IReadOnlyList<RolloutStepResult> Results { get; init; } = [];

    [JsonIgnore]
    public bool Active => Status is RolloutStatus.Running or RolloutStatus.Paused;

    /// <summary>Bake seconds spent in the current step at <paramref name="now"/>.</summary>
    public double BakedAt(DateTimeOffset now) => Status == RolloutStatus.Running ? BakedSeconds + Math.Max(0, (now - StepStartedAt).TotalSeconds) : BakedSeconds;
}

/// <summary>One step: the share of instances in the gray cohort, held for <see cref="BakeSeconds"/> before the next.</summary>
public sealed record RolloutStep(double Percentage, int BakeSeconds);

/// <summary>A finished step: when it ran and what the cohort reported for the release by its end.</summary>
public sealed record RolloutStepResult(int Step, double Percentage, DateTimeOffset StartedAt, DateTimeOffset EndedAt, int Applied, int Rejected, int Unhealthy);

[JsonConverter(typeof(JsonStringEnumConverter<RolloutStatus>))]
public enum RolloutStatus
{
    Running,
    Paused,

    /// <summary>Stopped by its limits: the gray release was abandoned (rolled back).</summary>
    Halted,

    /// <summary>Stopped by a person: the gray release was abandoned.</summary>
    Aborted,

    /// <summary>The last step baked: the release was promoted to main.</summary>
    Completed,
}

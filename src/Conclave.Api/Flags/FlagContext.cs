namespace Conclave.Flags;

/// <summary>
/// What a flag is evaluated for (docs/feature-flags.md): the targeting key (the user or entity; the instance id when
/// absent), the instance, groups, string attributes, and the time windows are judged at.
/// </summary>
public sealed record FlagContext
{
    /// <summary>An empty context: per-instance targeting once the client fills in the instance.</summary>
    public static FlagContext Empty { get; } = new();

    public string? TargetingKey { get; init; }

    public string? InstanceId { get; init; }

    public IReadOnlyList<string> Groups { get; init; } = [];

    public IReadOnlyDictionary<string, string> Attributes { get; init; } = EmptyAttributes;

    /// <summary>The time for <c>window</c> conditions; the clock when null.</summary>
    public DateTimeOffset? Now { get; init; }

    /// <summary>The key percentages hash: the targeting key, else the instance id.</summary>
    public string? EffectiveKey => string.IsNullOrEmpty(TargetingKey) ? (string.IsNullOrEmpty(InstanceId) ? null : InstanceId) : TargetingKey;

    private static readonly IReadOnlyDictionary<string, string> EmptyAttributes = new Dictionary<string, string>(0);
}

/// <summary>Why an evaluation gave its variant, in OpenFeature's words.</summary>
public enum FlagReason
{
    /// <summary>The flag has no rules: its default variant.</summary>
    Static,

    /// <summary>No rule matched: the default variant.</summary>
    Default,

    /// <summary>A rule with a fixed variant matched.</summary>
    TargetingMatch,

    /// <summary>A rollout rule's bucket chose the variant.</summary>
    Split,

    /// <summary>The flag is switched off: its off variant.</summary>
    Disabled,

    /// <summary>The evaluation failed; the caller's default value is returned.</summary>
    Error,
}

/// <summary>Why an evaluation failed, in OpenFeature's words.</summary>
public enum FlagErrorCode
{
    None,
    FlagNotFound,
    TypeMismatch,
    ParseError,
    General,
}

/// <summary>What an evaluation chose: the variant (null on error), why, and on error what went wrong.</summary>
/// <param name="Flag">The flag asked for.</param>
/// <param name="Variant">The variant chosen; null on error.</param>
/// <param name="Reason">Why.</param>
/// <param name="ErrorCode">What failed, or <see cref="FlagErrorCode.None"/>.</param>
/// <param name="ErrorMessage">A sentence for logs; null unless an error.</param>
/// <param name="Rule">The index of the rule that decided, or -1.</param>
public readonly record struct FlagDecision(string Flag, string? Variant, FlagReason Reason, FlagErrorCode ErrorCode, string? ErrorMessage, int Rule = -1)
{
    public static FlagDecision Failed(string flag, FlagErrorCode code, string message) => new(flag, null, FlagReason.Error, code, message);
}

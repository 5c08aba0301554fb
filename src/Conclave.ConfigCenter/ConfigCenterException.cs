namespace Conclave.ConfigCenter;

/// <summary>An expected refusal, with what the caller needs to act on it.</summary>
public class ConfigCenterException(ConfigErrorKind kind, string message) : Exception(message)
{
    public ConfigErrorKind Kind { get; } = kind;

    /// <summary>For <see cref="ConfigErrorKind.InvalidDocument"/>: 1-based line of the first error, when known.</summary>
    public int? Line { get; init; }

    /// <summary>For <see cref="ConfigErrorKind.InvalidDocument"/>: 1-based column of the first error, when known.</summary>
    public int? Column { get; init; }

    /// <summary>For <see cref="ConfigErrorKind.Conflict"/>: the revision the namespace is at now.</summary>
    public long? CurrentRevision { get; init; }
}

namespace Conclave.ConfigCenter;

/// <summary>
/// The documented limits. Names (app, environment, namespace): 1 to 64 characters of <c>A-Z a-z 0-9 . _ -</c>,
/// starting with a letter or digit. Item keys: 1 to 256 characters, no whitespace, no <c>= :</c> or <c>#</c>.
/// Instance ids: 1 to 128 printable ASCII characters without '/' or spaces.
/// </summary>
public sealed record ConfigLimits
{
    public int MaxNameLength { get; init; } = 64;

    public int MaxKeyLength { get; init; } = 256;

    public int MaxInstanceIdLength { get; init; } = 128;

    /// <summary>Largest working copy / release document, in UTF-8 bytes.</summary>
    public int MaxContentBytes { get; init; } = 256 * 1024;

    /// <summary>Largest single item value, in UTF-8 bytes.</summary>
    public int MaxValueBytes { get; init; } = 64 * 1024;

    public int MaxSchemaBytes { get; init; } = 64 * 1024;

    public int MaxGrayInstanceIds { get; init; } = 1000;

    /// <summary>Lifetime of an instance record without a new report.</summary>
    public long InstanceLeaseSeconds { get; init; } = 60;
}

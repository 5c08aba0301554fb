namespace Conclave.Cluster;

/// <summary>
/// Data written by a newer build than this one (a data directory, a log segment, a snapshot file): this build neither
/// reads nor changes it. The message names both versions and what the operator can do (docs/upgrades.md).
/// </summary>
/// <remarks>
/// An <see cref="IOException"/> so that callers which already stop on unreadable files stop on it too (<c>conclave
/// serve</c> prints the message and exits 1); code that skips unreadable files (an older snapshot can stand in for a
/// damaged one) must not skip this one.
/// </remarks>
public sealed class NewerFormatException : IOException
{
    public NewerFormatException(string message, string what, long found, long supported)
        : base(message)
    {
        What = what;
        Found = found;
        Supported = supported;
    }

    /// <summary>What carries the version: "data directory", "log segment", "snapshot file".</summary>
    public string What { get; }

    /// <summary>The version the data declares.</summary>
    public long Found { get; }

    /// <summary>The newest version this build reads.</summary>
    public long Supported { get; }
}

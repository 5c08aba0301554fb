using Conclave.Storage;

namespace Conclave.Server.Backup;

/// <summary>
/// A snapshot file, checked: its hash and what its image holds (<c>conclave snapshot status</c>). It copies the image
/// summary's fields rather than exposing <see cref="SnapshotImageSummary"/> so the CLI need not reference Conclave.Storage
/// (AssemblyBoundaryTests).
/// </summary>
public sealed record SnapshotFileStatus
{
    /// <summary>The file.</summary>
    public required string Path { get; init; }

    /// <summary>The SHA-256 the file ends with, lower-case hex, checked against its bytes; empty when the check was skipped.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The file's size in bytes.</summary>
    public long FileSize { get; init; }

    /// <summary>The image's format version.</summary>
    public int FormatVersion { get; init; }

    /// <summary>The Raft index the state was taken at.</summary>
    public long AppliedIndex { get; init; }

    /// <summary>The user keyspace's revision.</summary>
    public long Revision { get; init; }

    /// <summary>The user keyspace's compact revision.</summary>
    public long CompactRevision { get; init; }

    /// <summary>User keys that exist (latest version not a deletion).</summary>
    public long Keys { get; init; }

    /// <summary>Retained versions of user keys, deletions included (what etcd counts as "total keys").</summary>
    public long Versions { get; init; }

    /// <summary>The system keyspace's (configuration center's) revision.</summary>
    public long SystemRevision { get; init; }

    /// <summary>Keys of the system keyspace (configuration center, membership records).</summary>
    public long SystemKeys { get; init; }

    /// <summary>Leases.</summary>
    public int Leases { get; init; }

    /// <summary>Whether authentication is enabled.</summary>
    public bool AuthEnabled { get; init; }

    /// <summary>Users in the auth store.</summary>
    public int Users { get; init; }

    /// <summary>Roles in the auth store.</summary>
    public int Roles { get; init; }

    /// <summary>The image's length in bytes (the file holds it, its padding and the hash).</summary>
    public long ImageSize { get; init; }

    internal static SnapshotFileStatus From(string path, string sha256, long fileSize, SnapshotImageSummary image) => new()
    {
        Path = path,
        Sha256 = sha256,
        FileSize = fileSize,
        FormatVersion = image.FormatVersion,
        AppliedIndex = image.AppliedIndex,
        Revision = image.Revision,
        CompactRevision = image.CompactRevision,
        Keys = image.Keys,
        Versions = image.Versions,
        SystemRevision = image.SystemRevision,
        SystemKeys = image.SystemKeys,
        Leases = image.Leases,
        AuthEnabled = image.AuthEnabled,
        Users = image.Users,
        Roles = image.Roles,
        ImageSize = image.Length,
    };
}

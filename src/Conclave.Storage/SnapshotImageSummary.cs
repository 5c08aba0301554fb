namespace Conclave.Storage;

/// <summary>What a snapshot image holds, as <see cref="SnapshotImage"/> read it.</summary>
public sealed record SnapshotImageSummary
{
    /// <summary>The image's format version (1 to 4).</summary>
    public int FormatVersion { get; init; }

    /// <summary>The Raft index the state was taken at.</summary>
    public long AppliedIndex { get; init; }

    /// <summary>The user keyspace's revision (what etcd's API reports).</summary>
    public long Revision { get; init; }

    /// <summary>The user keyspace's compact revision.</summary>
    public long CompactRevision { get; init; }

    /// <summary>User keys whose latest version is not a deletion (what <c>etcdctl get "" --from-key --count-only</c> would count).</summary>
    public long Keys { get; init; }

    /// <summary>Retained versions of user keys, deletions included (etcd's "total keys" counts these).</summary>
    public long Versions { get; init; }

    /// <summary>The system keyspace's revision (the configuration center's).</summary>
    public long SystemRevision { get; init; }

    /// <summary>The system keyspace's compact revision.</summary>
    public long SystemCompactRevision { get; init; }

    /// <summary>Keys in the system keyspace (configuration center and membership records), with any history.</summary>
    public long SystemKeys { get; init; }

    /// <summary>System keys a rewrite left out.</summary>
    public long SystemKeysDropped { get; init; }

    /// <summary>Leases of both keyspaces.</summary>
    public int Leases { get; init; }

    /// <summary>Active alarms.</summary>
    public int Alarms { get; init; }

    /// <summary>Whether authentication is enabled in the image's auth store.</summary>
    public bool AuthEnabled { get; init; }

    /// <summary>Users in the auth store.</summary>
    public int Users { get; init; }

    /// <summary>Roles in the auth store.</summary>
    public int Roles { get; init; }

    /// <summary>The image's length in bytes, through its trailer.</summary>
    public long Length { get; init; }
}

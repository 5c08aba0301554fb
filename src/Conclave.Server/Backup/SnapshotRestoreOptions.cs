namespace Conclave.Server.Backup;

/// <summary>What <c>conclave snapshot restore</c> is told: the file, and the new member it seeds (etcd's flags).</summary>
public sealed record SnapshotRestoreOptions
{
    /// <summary>The saved snapshot file.</summary>
    public required string SnapshotPath { get; init; }

    /// <summary><c>--data-dir</c>: the new member's data directory; must not exist or be empty.</summary>
    public required string DataDirectory { get; init; }

    /// <summary><c>--name</c>: the new member's name, one of <see cref="InitialCluster"/>'s.</summary>
    public string Name { get; init; } = "default";

    /// <summary><c>--initial-cluster</c>: the new cluster's members, <c>name=peerURL,...</c>; empty means this member alone.</summary>
    public string? InitialCluster { get; init; }

    /// <summary><c>--initial-advertise-peer-urls</c>: this member's peer URL; when the initial cluster names it too, they must agree.</summary>
    public string? InitialAdvertisePeerUrl { get; init; }

    /// <summary><c>--initial-cluster-token</c>: mixed into the new cluster's id; give every member the same one.</summary>
    public string InitialClusterToken { get; init; } = "conclave-cluster";

    /// <summary><c>--skip-hash-check</c>: restore a file without (or with a damaged) trailing SHA-256; the image's structure is still checked.</summary>
    public bool SkipHashCheck { get; init; }
}

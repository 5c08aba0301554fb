namespace Conclave.Server.Backup;

/// <summary>What <see cref="SnapshotBackup.RestoreAsync"/> wrote.</summary>
/// <param name="Restored">What the new member's snapshot holds (its sizes are of the image written, its hash not computed).</param>
/// <param name="ClusterId">The new cluster's id.</param>
/// <param name="MembershipRecordsDropped">The old cluster's membership records left out.</param>
public sealed record SnapshotRestoreResult(SnapshotFileStatus Restored, ulong ClusterId, long MembershipRecordsDropped);

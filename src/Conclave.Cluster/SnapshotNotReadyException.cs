namespace Conclave.Cluster;

/// <summary>
/// A follower's answer to an InstallSnapshot whose image it is still fetching: "not yet". The leader asks again with
/// its next replication round; the fetch goes on in the background meanwhile (ADR 0010). With <see cref="Failure"/> set,
/// the fetch of that image failed for good (the source no longer holds it, it is corrupt, or it cannot fit): the
/// member needs a newer description of the leader's snapshot, not another wait.
/// </summary>
public sealed class SnapshotNotReadyException(long index, long receivedBytes, long totalBytes, string? failure = null)
    : Exception(failure is null
        ? $"Snapshot {index} is not installed yet: {receivedBytes} of {totalBytes} bytes fetched."
        : $"Snapshot {index} is not installed: its fetch failed ({failure}).")
{
    public long Index { get; } = index;

    public long ReceivedBytes { get; } = receivedBytes;

    public long TotalBytes { get; } = totalBytes;

    /// <summary>Why the fetch of the image failed for good; null while it is still going.</summary>
    public string? Failure { get; } = failure;
}

namespace Conclave.Cluster;

/// <summary>
/// A follower's answer to an InstallSnapshot whose image it is still fetching: "not yet". The leader asks again with
/// its next replication round; the fetch goes on in the background meanwhile (ADR 0010).
/// </summary>
public sealed class SnapshotNotReadyException(long index, long receivedBytes, long totalBytes)
    : Exception($"Snapshot {index} is not installed yet: {receivedBytes} of {totalBytes} bytes fetched.")
{
    public long Index { get; } = index;

    public long ReceivedBytes { get; } = receivedBytes;

    public long TotalBytes { get; } = totalBytes;
}

using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Serves the snapshot channel's fetches (<see cref="SnapshotTransfer"/>), streaming at most <see cref="MaxConcurrent"/>
/// images at once. A valid fetch beyond that is answered <see cref="SnapshotTransfer.Busy"/> and its connection closed;
/// the fetching member retries with back-off from the bytes it already has, so the cap costs a lagging member time,
/// never progress. Each image is sent at most as fast as <c>bytesPerSecond</c> says (0: no limit), read for every chunk.
/// (A connection that has not sent its request yet holds no slot; the request must come within the
/// peer listener's handshake timeout.)
/// </summary>
/// <remarks>
/// Each fetch being served holds a file handle, a 1 MiB chunk in flight and the disk's read bandwidth; a cluster has a
/// handful of members that can lag at once, so the default is generous for them and bounds what anything else that
/// reaches the peer port can make a member do.
/// </remarks>
internal sealed class SnapshotServer(
    IConnectionListener connections, SnapshottingStateMachine snapshots, ClusterMetrics metrics, ILogger logger, TimeSpan handshakeTimeout,
    Func<long>? bytesPerSecond = null, int maxConcurrent = SnapshotServer.DefaultMaxConcurrent, Func<long, bool>? gone = null)
{
    /// <summary>The default of <see cref="MaxConcurrent"/>.</summary>
    public const int DefaultMaxConcurrent = 8;

    private readonly SnapshotStreamSlots streams = new(maxConcurrent > 0 ? maxConcurrent : throw new ArgumentOutOfRangeException(nameof(maxConcurrent)));

    /// <summary>Most images streamed at once.</summary>
    public int MaxConcurrent { get; } = maxConcurrent;

    /// <summary>Accepts and serves fetches until <paramref name="cancellationToken"/> ends or the channel closes; then waits for the fetches being served.</summary>
    public Task RunAsync(CancellationToken cancellationToken) =>
        Peers.PeerConnections.ServeEachAsync(
            connections, connection => SnapshotTransfer.ServeAsync(connection, snapshots, metrics, logger, handshakeTimeout, cancellationToken, streams, bytesPerSecond, gone), cancellationToken);
}

/// <summary>How many snapshot images a member streams at once: a slot is taken without waiting, or not at all.</summary>
internal sealed class SnapshotStreamSlots(int limit)
{
    private int taken;

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref taken) <= limit)
        {
            return true;
        }

        Interlocked.Decrement(ref taken);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref taken);
}

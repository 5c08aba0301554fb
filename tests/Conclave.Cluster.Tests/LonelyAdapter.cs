using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>A <see cref="SnapshottingStateMachine"/> for a member with no peers to fetch snapshots from, as most log tests need.</summary>
internal static class LonelyAdapter
{
    /// <summary>Snapshots of <paramref name="machine"/> kept in <paramref name="directory"/>, one point every <paramref name="interval"/> entries.</summary>
    public static SnapshottingStateMachine Create(IReplicatedStateMachine machine, string directory, ClusterMetrics metrics, long interval = 1_000_000) =>
        new(machine, directory, interval, 1L << 40, 1, new PendingBatches(1), static (_, _, _) => throw new SnapshotGoneException("no peers here"), null,
            NullLogger.Instance, metrics, TimeProvider.System);
}

using System.Diagnostics.Metrics;

namespace Conclave.Cluster;

/// <summary>
/// Latency histograms of the consensus layer, with bucket boundaries so that <c>/metrics</c> exports them as Prometheus
/// histograms (percentiles, alerts on p99): the write and <c>fdatasync</c> of each log flush (etcd's
/// <c>wal_fsync_duration_seconds</c>) and the apply of each entry to the state machine (what etcd's
/// <c>backend_commit_duration_seconds</c> measures for its bolt database; here the state lives in memory). One meter per
/// process, like <see cref="System.Diagnostics.Metrics"/> meters elsewhere: members in one process share it.
/// </summary>
internal static class ClusterTimings
{
    /// <summary>The meter's name ("Conclave.Cluster.Timings").</summary>
    public const string MeterName = "Conclave.Cluster.Timings";

    private static readonly Meter Meter = new(MeterName);

    private static readonly InstrumentAdvice<double> DiskBuckets = new()
    {
        HistogramBucketBoundaries = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192],
    };

    private static readonly InstrumentAdvice<double> ApplyBuckets = new()
    {
        HistogramBucketBoundaries = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    };

    /// <summary>One log flush: a write and an fdatasync of everything appended since the last (seconds).</summary>
    public static readonly Histogram<double> WalFsync = Meter.CreateHistogram(
        "conclave.cluster.wal_fsync_duration_seconds", "s", "Log flushes (one write and one fdatasync each), by duration", tags: null, DiskBuckets);

    /// <summary>The apply of one log entry to the state machine (seconds).</summary>
    public static readonly Histogram<double> Apply = Meter.CreateHistogram(
        "conclave.cluster.apply_duration_seconds", "s", "Log entries applied to the state machine, by duration", tags: null, ApplyBuckets);

    /// <summary>Creates the instruments now, so <c>/metrics</c> lists them (at zero) before the first flush.</summary>
    public static void Publish() => _ = WalFsync;
}

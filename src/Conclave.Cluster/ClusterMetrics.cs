using System.Diagnostics.Metrics;

namespace Conclave.Cluster;

/// <summary>Instruments of the consensus layer, under the meter "Conclave.Cluster".</summary>
internal sealed class ClusterMetrics : IDisposable
{
    public const string MeterName = "Conclave.Cluster";

    private readonly Meter meter;

    public ClusterMetrics(Func<long> appliedIndex, Func<long> commitIndex, Func<long> firstLogIndex)
    {
        meter = new Meter(MeterName);
        ClusterTimings.Publish();
        Proposals = meter.CreateCounter<long>("conclave.cluster.proposals", "{command}", "Commands proposed on this member");
        FailedProposals = meter.CreateCounter<long>("conclave.cluster.proposals.failed", "{command}", "Proposed commands that failed (not committed or outcome unknown)");
        BatchSize = meter.CreateHistogram<int>("conclave.cluster.batch.size", "{command}", "Commands per proposed log entry");
        BatchBytes = meter.CreateHistogram<int>("conclave.cluster.batch.bytes", "By", "Payload bytes per proposed log entry");
        Snapshots = meter.CreateCounter<long>("conclave.cluster.snapshots", "{snapshot}", "Snapshots written");
        ForwardedBatches = meter.CreateCounter<long>("conclave.cluster.forwarded_batches", "{entry}", "Proposal batches this member sent to the leader");
        ResentBatches = meter.CreateCounter<long>("conclave.cluster.resent_batches", "{entry}", "Batches sent again after a leader change proved they were not appended");
        LeaderChanges = meter.CreateCounter<long>("conclave.cluster.leader_changes", "{change}", "Leader changes seen by this member (including losing the leader)");
        SnapshotFetches = meter.CreateCounter<long>("conclave.cluster.snapshot.fetches", "{fetch}", "Snapshot images this member started or resumed fetching from a peer to catch up");
        SnapshotFetchInterruptions = meter.CreateCounter<long>("conclave.cluster.snapshot.fetch_interruptions", "{interruption}", "Snapshot fetches that stopped early and resumed from the bytes already received");
        SnapshotBytesReceived = meter.CreateCounter<long>("conclave.cluster.snapshot.received", "By", "Snapshot bytes this member received from peers");
        SnapshotBytesSent = meter.CreateCounter<long>("conclave.cluster.snapshot.sent", "By", "Snapshot bytes this member served to peers");
        PeerRequests = meter.CreateCounter<long>("conclave.cluster.peer.requests", "{request}", "Requests this member sent on other members' request channels, by kind");
        PeerRequestFailures = meter.CreateCounter<long>("conclave.cluster.peer.request_failures", "{request}", "Requests to other members that failed, by kind and error (not_applied, unavailable, refused, unreachable, connection_lost, cancelled, failed)");
        PeerRequestsServed = meter.CreateCounter<long>("conclave.cluster.peer.requests_served", "{request}", "Requests from other members served on this member's request channel, by kind");
        PeerRequestsRefused = meter.CreateCounter<long>("conclave.cluster.peer.request_connections_refused", "{connection}", "Request channel connections closed for a protocol error (a frame too large, of an unknown version or type)");
        meter.CreateObservableGauge("conclave.cluster.applied_index", appliedIndex, "{entry}", "Highest log index applied on this member");
        meter.CreateObservableGauge("conclave.cluster.commit_index", commitIndex, "{entry}", "Highest log index known committed");
        meter.CreateObservableGauge("conclave.cluster.log.first_index", firstLogIndex, "{entry}",
            "First index the log still holds: a peer behind it catches up by snapshot");
    }

    public Counter<long> Proposals { get; }

    public Counter<long> FailedProposals { get; }

    public Histogram<int> BatchSize { get; }

    public Histogram<int> BatchBytes { get; }

    public Counter<long> Snapshots { get; }

    public Counter<long> ForwardedBatches { get; }

    public Counter<long> ResentBatches { get; }

    public Counter<long> LeaderChanges { get; }

    public Counter<long> SnapshotFetches { get; }

    public Counter<long> SnapshotFetchInterruptions { get; }

    public Counter<long> SnapshotBytesReceived { get; }

    public Counter<long> SnapshotBytesSent { get; }

    public Counter<long> PeerRequests { get; }

    public Counter<long> PeerRequestFailures { get; }

    public Counter<long> PeerRequestsServed { get; }

    public Counter<long> PeerRequestsRefused { get; }

    /// <summary>Reports the commands proposed on this member that have no outcome yet (queued or in a batch on its way).</summary>
    public void ObservePendingProposals(Func<long> pending) =>
        meter.CreateObservableGauge("conclave.cluster.proposals.pending", pending, "{command}", "Commands proposed on this member and not yet applied or failed (queued or in flight)");

    /// <summary>Reports how far the snapshot being fetched is (bytes here, bytes in all; both 0 when none is).</summary>
    public void ObserveSnapshotFetch(Func<long> received, Func<long> expected)
    {
        meter.CreateObservableGauge("conclave.cluster.snapshot.fetch_received", received, "By", "Bytes of the snapshot being fetched that are on this member");
        meter.CreateObservableGauge("conclave.cluster.snapshot.fetch_expected", expected, "By", "Size of the snapshot being fetched (0 when none is)");
    }

    public void Dispose() => meter.Dispose();
}

using System.Net;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>How one Raft member is started: identity, peers, storage and tuning.</summary>
public sealed record RaftNodeOptions
{
    /// <summary>This member's name (etcd's <c>--name</c>); must be a key of <see cref="InitialCluster"/>.</summary>
    public string MemberName { get; init; } = "default";

    /// <summary>Root folder of this member's durable state (WAL, snapshots, membership).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Address the peer listener binds to (etcd's <c>--listen-peer-urls</c>).</summary>
    public required IPEndPoint PeerEndpoint { get; init; }

    /// <summary>
    /// The peer listener, already bound at <see cref="PeerEndpoint"/> by the host (which also serves its gRPC channel);
    /// null: the member binds one itself and serves only Raft on it. Whoever binds it disposes it.
    /// </summary>
    public Peers.PeerListener? PeerListener { get; init; }

    /// <summary>
    /// TLS between members (the peer URLs are <c>https://</c>), or null for plain TCP. The same object the
    /// <see cref="PeerListener"/> was bound with: it serves this member's listener and every connection it opens.
    /// </summary>
    public Peers.PeerTls? PeerTls { get; init; }

    /// <summary>
    /// Initial members, name to advertised peer URL, as etcd's <c>--initial-cluster</c>
    /// (<c>a=http://10.0.0.1:2380,b=...</c>). Empty means a one-member cluster of this member at
    /// <see cref="PeerEndpoint"/>. Only read on the first start; later starts use the persisted membership.
    /// </summary>
    public IReadOnlyDictionary<string, string> InitialCluster { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Joins a running cluster (etcd's <c>--initial-cluster-state existing</c>) instead of forming a new one: the
    /// member waits for the leader to bring it in after a MemberAdd, and takes the cluster's id from the leader.
    /// </summary>
    public bool JoinExisting { get; init; }

    /// <summary>Token mixed into the cluster id, as etcd's <c>--initial-cluster-token</c>.</summary>
    public string InitialClusterToken { get; init; } = "conclave-cluster";

    /// <summary>This member's advertised client URLs, reported in <see cref="MemberInfo"/>.</summary>
    public IReadOnlyList<string> ClientUrls { get; init; } = [];

    /// <summary>Lower bound of the randomized election timeout.</summary>
    public TimeSpan LowerElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>Upper bound of the randomized election timeout.</summary>
    public TimeSpan UpperElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(2000);

    /// <summary>
    /// Timeout of one peer request; must be shorter than <see cref="LowerElectionTimeout"/>. DotNext 6.12's
    /// candidate waits for every member's vote until its election timeout, so a member that accepts the
    /// connection but never answers (SIGSTOP, a partition that drops packets) would make every election fail
    /// unless its vote request times out first (ADR 0001). It must also cover an InstallSnapshot of the whole
    /// state: DotNext 6.12 retries an InstallSnapshot that exceeds it, forever.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Leader heartbeat interval; under half of <see cref="LowerElectionTimeout"/>.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a proposal may wait to be committed and applied before it fails.</summary>
    public TimeSpan ProposalTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a proposal waits for a leader to be known before it fails as "no leader" (nothing sent, nothing
    /// applied). Longer than an election normally takes.
    /// </summary>
    public TimeSpan LeaderWaitTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a read barrier may wait before it fails.</summary>
    public TimeSpan ReadBarrierTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Snapshots are taken at log indexes that are multiples of this (the log behind one is truncated): at every multiple
    /// while the state is small, at one where the log since the last snapshot carries a quarter of the state's size
    /// once it is large, and at every sixteenth whatever the log carries (<see cref="SnapshotSchedule"/>).
    /// </summary>
    public long SnapshotInterval { get; init; } = 10_000;

    /// <summary>
    /// Most bytes per second this member sends of a snapshot image to one fetching member (0: no limit): a cap for links
    /// and disks that a multi-gigabyte transfer would otherwise fill, at the cost of a slower catch-up.
    /// </summary>
    public long SnapshotSendBytesPerSecond { get; init; }

    /// <summary>
    /// A snapshot is also taken once this many payload bytes were applied since the last one, or half the last
    /// snapshot's size if that is more: the log on disk behind the newest snapshot (and a restart's replay) stays within
    /// about half the state. An image no larger than this is also taken at every multiple of
    /// <see cref="SnapshotInterval"/> (<see cref="SnapshotSchedule"/>).
    /// </summary>
    public long SnapshotLogBytes { get; init; } = 8L * 1024 * 1024;

    /// <summary>Most commands in one log entry.</summary>
    public int MaxBatchCommands { get; init; } = 512;

    /// <summary>Most payload bytes in one log entry (a single larger command still gets its own entry).</summary>
    public int MaxBatchBytes { get; init; } = DefaultMaxBatchBytes;

    /// <summary>The default of <see cref="MaxBatchBytes"/>.</summary>
    public const int DefaultMaxBatchBytes = 1024 * 1024;

    /// <summary>
    /// Largest command (serialized) this member proposes; larger ones are refused before they are queued. It also
    /// bounds what the leader accepts from a follower: one batch of at most <see cref="MaxBatchBytes"/> plus one command.
    /// </summary>
    public int MaxCommandBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>Largest forwarded batch the leader accepts (a full batch plus one command, and the batch's own fields).</summary>
    public int MaxForwardedBatchBytes => ForwardedBatchBytes(MaxBatchBytes, MaxCommandBytes);

    /// <summary>A full batch plus one command, and the batch's own fields.</summary>
    public static int ForwardedBatchBytes(int maxBatchBytes, int maxCommandBytes) => maxBatchBytes + maxCommandBytes + 64;

    /// <summary>Most log entries proposed by this member and not yet applied; the next batch forms meanwhile.</summary>
    public int MaxInFlightBatches { get; init; } = 4;

    /// <summary>Most proposals queued for batching; further callers wait for room.</summary>
    public int MaxQueuedProposals { get; init; } = 65_536;

    /// <summary>
    /// Size of one Raft log segment file (at least 1 MiB). Segments are zero-filled before their first write, so a
    /// flush overwrites allocated blocks; the next one is prepared in the background while the current one fills, and
    /// segments behind the newest snapshot are deleted. Larger segments mean fewer files and rarer preparation.
    /// </summary>
    public long WalSegmentSize { get; init; } = 4L * 1024 * 1024;

    /// <summary>The default of <see cref="LogCacheBytes"/>.</summary>
    public const long DefaultLogCacheBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Payload bytes of the Raft log kept in memory once applied and durable (oldest dropped first); the rest is read
    /// back from the segments when a lagging member or a learner needs it. Without it the log behind the newest snapshot
    /// (up to half the state's size) would stay in memory (ADR 0017).
    /// </summary>
    public long LogCacheBytes { get; init; } = DefaultLogCacheBytes;

    /// <summary>Clock for timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Logging for this component and DotNext's Raft engine.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Faults injected by tests; null (none) everywhere else.</summary>
    public ClusterFaults? Faults { get; init; }
}

namespace Conclave.Server;

/// <summary>
/// How one member runs. Names follow etcd's flags so an operator who knows etcd knows Conclave
/// (<c>--name</c> is <see cref="Name"/>, <c>--data-dir</c> is <see cref="DataDirectory"/>, and so on).
/// </summary>
public sealed record ServerOptions
{
    /// <summary>Member name (<c>--name</c>).</summary>
    public string Name { get; init; } = "default";

    /// <summary>Where the log and snapshots live (<c>--data-dir</c>); default <c>./conclave.data</c>.</summary>
    public string DataDirectory { get; init; } = "conclave.data";

    /// <summary>gRPC listen URLs (<c>--listen-client-urls</c>); port 0 picks a free port.</summary>
    public IReadOnlyList<string> ListenClientUrls { get; init; } = ["http://127.0.0.1:2379"];

    /// <summary>Client URLs told to others (<c>--advertise-client-urls</c>); defaults to the bound client URLs.</summary>
    public IReadOnlyList<string>? AdvertiseClientUrls { get; init; }

    /// <summary>HTTP/1.1 listen URLs for the JSON API, /health and /metrics (<c>--listen-http-urls</c>).</summary>
    public IReadOnlyList<string> ListenHttpUrls { get; init; } = ["http://127.0.0.1:2381"];

    /// <summary>
    /// Listen URLs that serve only <c>/metrics</c> and <c>/health</c> over HTTP/1.1 (<c>--listen-metrics-urls</c>, etcd's
    /// flag; none by default). <c>https://</c> ones use the client listeners' certificate (<see cref="Tls"/>); an
    /// <c>http://</c> one off loopback needs <see cref="InsecureListen"/>, as every plain-text listener does.
    /// </summary>
    public IReadOnlyList<string> ListenMetricsUrls { get; init; } = [];

    /// <summary>
    /// Extra host names the HTTP listener answers (<c>--host-whitelist</c>, comma separated; <c>*</c> for any), and
    /// whose pages may write through it. Always answered: IP addresses, <c>localhost</c>, this machine's host name and
    /// the hosts of this member's URLs. A guard against DNS rebinding; see docs/server.md.
    /// </summary>
    public IReadOnlyList<string>? HostWhitelist { get; init; }

    /// <summary>
    /// TLS for the gRPC and HTTP listeners whose URLs are <c>https://</c> (<c>--cert-file</c>, <c>--key-file</c>,
    /// <c>--trusted-ca-file</c>, <c>--client-cert-auth</c>, <c>--tls-min-version</c>, <c>--cipher-suites</c>).
    /// </summary>
    public Security.TlsSettings Tls { get; init; } = new();

    /// <summary>
    /// TLS between members when the peer URLs are <c>https://</c> (<c>--peer-cert-file</c>, <c>--peer-key-file</c>,
    /// <c>--peer-trusted-ca-file</c>, <c>--peer-client-cert-auth</c>; <c>--tls-min-version</c> and <c>--cipher-suites</c>
    /// apply here too, as in etcd). The certificate serves the peer listener and authenticates this member to the others.
    /// </summary>
    public Security.TlsSettings PeerTls { get; init; } = new();

    /// <summary>
    /// Allows plain-text listeners on addresses other than loopback (<c>--insecure-listen</c>; logged at Warning on every
    /// start). Without it a member refuses to start with an <c>http://</c> client, HTTP or peer URL off loopback (use
    /// <c>https://</c>; for peers with <c>--peer-client-cert-auth</c>, so members authenticate each other).
    /// </summary>
    public bool InsecureListen { get; init; }

    /// <summary>Raft peer listen URL (<c>--listen-peer-urls</c>); port 0 picks a free port.</summary>
    public string ListenPeerUrl { get; init; } = "http://127.0.0.1:2380";

    /// <summary>Peer URL told to others (<c>--initial-advertise-peer-urls</c>); defaults to the bound peer URL.</summary>
    public string? InitialAdvertisePeerUrl { get; init; }

    /// <summary><c>--initial-cluster</c>: <c>name=peerUrl,...</c>; empty means this member alone.</summary>
    public string? InitialCluster { get; init; }

    /// <summary><c>--initial-cluster-state</c>: <c>new</c> or <c>existing</c>.</summary>
    public string InitialClusterState { get; init; } = "new";

    /// <summary>Largest request accepted, in bytes (<c>--max-request-bytes</c>, default 1.5 MiB).</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>
    /// Largest gRPC message or HTTP body accepted: <see cref="MaxRequestBytes"/> plus 512 KiB of framing, so that an
    /// oversized request reaches the server's own check and gets etcd's "request is too large". Also the largest command
    /// a member proposes.
    /// </summary>
    public int MaxMessageBytes => MaxRequestBytes + (512 * 1024);

    /// <summary>Most operations per txn branch (<c>--max-txn-ops</c>, default 128).</summary>
    public int MaxTxnOps { get; init; } = 128;

    /// <summary>
    /// Most concurrent HTTP/2 streams a client may have open on one gRPC connection (<c>--max-concurrent-streams</c>,
    /// etcd's flag; default 1,000 where etcd's is unlimited): the SETTINGS_MAX_CONCURRENT_STREAMS the client
    /// listeners advertise. Kestrel's rapid-reset defence is measured against it: a connection that opens streams
    /// faster than they are handled is closed with ENHANCE_YOUR_CALM once twice this many are in flight.
    /// </summary>
    public int MaxConcurrentStreams { get; init; } = 1000;

    /// <summary>
    /// Most open connections on each gRPC, HTTP and metrics listener (<c>--max-concurrent-connections</c>; 0 for no
    /// limit; default 10,000): Kestrel counts every listener on its own. A connection past it is closed as soon as it is
    /// accepted. Peer connections do not count.
    /// </summary>
    public long MaxConcurrentConnections { get; init; } = 10_000;

    /// <summary>Space quota in bytes (<c>--quota-backend-bytes</c>, default 2 GiB).</summary>
    public long QuotaBackendBytes { get; init; } = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// Election timeout (<c>--election-timeout</c>): a follower that hears no leader for a random time between
    /// this and twice this starts an election. Peer requests time out at half of it, so a member that accepts
    /// connections but never answers (paused, or cut off by a network that drops packets) cannot stall an election.
    /// </summary>
    public TimeSpan ElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>Leader heartbeat interval (<c>--heartbeat-interval</c>); must be under half the election timeout.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Snapshots are taken at multiples of this log index (<c>--snapshot-count</c>): every multiple while the state is small,
    /// fewer once the state is large against what changed (docs/cluster.md); the same on every member, so their images match.
    /// </summary>
    public int SnapshotCount { get; init; } = 10_000;

    /// <summary>Most bytes per second of a snapshot image sent to one catching-up member (<c>--snapshot-send-rate</c>, MB/s; 0: no limit).</summary>
    public long SnapshotSendBytesPerSecond { get; init; }

    /// <summary>Smallest lease TTL granted, in seconds; shorter requests are raised to it (as etcd does).</summary>
    public long MinLeaseTtlSeconds { get; init; } = 2;

    /// <summary>
    /// Most leases alive at once (<c>--max-leases</c>, default 1,000,000; etcd has no limit). The quota does not count
    /// leases: each costs about 600 bytes of memory and its place in every snapshot. A grant past it fails with
    /// RESOURCE_EXHAUSTED "etcdserver: too many leases". Checked by the member that proposes the grant against the
    /// leases it has applied, so grants in flight at once may pass it by that many.
    /// </summary>
    public int MaxLeases { get; init; } = 1_000_000;

    /// <summary>How often the leader looks for expired leases.</summary>
    public TimeSpan LeaseCheckInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A follower that has not applied, within this time, what the leader had committed this long ago is reported stalled (/metrics).</summary>
    public TimeSpan FollowerStallThreshold { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a follower waits for a leader to answer a request only the leader can serve (keep-alives).</summary>
    public TimeSpan LeaderWaitTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Added to every remaining lease TTL when this member becomes leader, so a failover does not expire leases clients were keeping alive.</summary>
    public TimeSpan LeaseLeaderChangeExtension { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Faults the tests inject into the member's consensus; null (none) outside the tests.</summary>
    internal Cluster.ClusterFaults? Faults { get; init; }

    /// <summary>The clock lease expiry uses; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The configuration center's limits (names, sizes, the lifetime of an instance's delivery record).</summary>
    public ConfigCenter.ConfigLimits ConfigLimits { get; init; } = new();

    /// <summary>
    /// The master keys that wrap the configuration center's data keys (<c>--config-master-key-file</c> or
    /// <c>CONCLAVE_MASTER_KEY</c>; ADR 0015). Null: secrets cannot be marked, sealed or opened; everything else works.
    /// </summary>
    public ConfigCenter.Secrets.IMasterKeyProvider? ConfigMasterKeys { get; init; }

    /// <summary>
    /// Outbound webhook requests of the configuration center (ADR 0016): retry schedule, request timeout, and whether
    /// targets on loopback, private, link-local or unique-local addresses are refused (default: allowed; see docs/security.md).
    /// </summary>
    public Config.WebhookOptions Webhooks { get; init; } = new();

    /// <summary>Auth settings: token kind and lifetime, bcrypt cost (<c>--auth-token</c>, <c>--auth-token-ttl</c>, <c>--bcrypt-cost</c>).</summary>
    public Security.Auth.AuthSettings Auth { get; init; } = new();

    /// <summary>OpenID Connect sign-in for the console (<c>--oidc-*</c>); off without an issuer. Needs auth enabled.</summary>
    public Security.Auth.Oidc.OidcSettings Oidc { get; init; } = new();

    /// <summary>
    /// How the member writes its log to standard output (<c>--log-format</c>): <see cref="LogFormat.Text"/> (one readable
    /// line per entry, the default) or <see cref="LogFormat.Json"/> (one JSON object per line, for log collectors).
    /// </summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>
    /// Where traces go (<c>--otlp-endpoint</c>, an OTLP collector's URL). Null: <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> or
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> when set, else no tracing at all (no spans are created).
    /// </summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>
    /// The OTLP transport for <see cref="OtlpEndpoint"/> (<c>--otlp-protocol</c>): <c>grpc</c> or <c>http/protobuf</c>.
    /// Null: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, else <c>grpc</c>.
    /// </summary>
    public string? OtlpProtocol { get; init; }

    /// <summary>Interval of watch progress notifications for watches that asked for them.</summary>
    public TimeSpan WatchProgressNotifyInterval { get; init; } = TimeSpan.FromMinutes(10);

    // Limits that protect the member from one client (docs/security.md#limits). A watch costs about 300 bytes plus its
    // key and range end, and every revision visits every watch of a stream.

    /// <summary>
    /// Most watches open on one Watch stream (<c>--max-watches-per-stream</c>, default 10,000; etcd has no limit). A
    /// create past it is answered on the stream as created and canceled, with the reason "etcdserver: too many
    /// watches: ..." (the stream and its other watches go on).
    /// </summary>
    public int MaxWatchesPerStream { get; init; } = 10_000;

    /// <summary>Most watches open on one gRPC connection, all its streams together (<c>--max-watches-per-connection</c>, default 100,000).</summary>
    public int MaxWatchesPerConnection { get; init; } = 100_000;

    /// <summary>
    /// Most bytes of keys and range ends of the watches open on one gRPC connection
    /// (<c>--max-watch-key-bytes-per-connection</c>, default 64 MiB): a watch holds its key, which may be as large as a
    /// request.
    /// </summary>
    public long MaxWatchKeyBytesPerConnection { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Most Maintenance snapshots sent at once (default 2; no flag): each holds an image of the whole state in memory
    /// while its client reads it. Past it a snapshot request fails at once with RESOURCE_EXHAUSTED
    /// "etcdserver: too many requests".
    /// </summary>
    public int MaxConcurrentSnapshots { get; init; } = 2;

    /// <summary>
    /// Most bytes of large read responses (1 MiB or more: Range and Txn, over gRPC and the JSON gateway) held until their
    /// clients take them (<c>--max-pending-response-bytes</c>, default 1 GiB). A response is serialized whole before it
    /// is sent, and a client need not read it. Past it a large read fails at once with RESOURCE_EXHAUSTED
    /// "etcdserver: too many requests"; smaller reads are not counted, and a read is always admitted when none is pending.
    /// </summary>
    public long MaxPendingResponseBytes { get; init; } = 1024L * 1024 * 1024;
}

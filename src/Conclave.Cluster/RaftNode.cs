using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Raft;
using Conclave.Cluster.Peers;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster;

/// <summary>
/// <see cref="IConsensus"/> over DotNext's Raft and our own log (<see cref="RaftLog"/>). A single member is a
/// one-member cluster on the same code path. Concurrent proposals are batched into one log entry each
/// (<see cref="CommandBatch"/>), and several entries are in flight at once, so the next batch forms while the
/// previous one is replicated and flushed.
/// </summary>
/// <remarks>
/// This type puts the parts together and answers for consensus itself; each other job is its own type:
/// <see cref="ProposalPipeline"/> (batching, forwarding), <see cref="LeaderBarrier"/> (linearizable reads),
/// <see cref="FollowerRequests"/> (the leader's side of forwarding and ReadIndex), <see cref="MembershipChanges"/>
/// (members, changes, the leader's side of learners), <see cref="LearnerFollower"/> (the learner's side),
/// <see cref="MemberStanding"/> (cluster id, removal) and <see cref="PeerRequestRouter"/> (the request channel).
/// </remarks>
public sealed class RaftNode : IConsensus
{
    private readonly RaftNodeOptions options;
    private readonly ClusterTopology topology;
    private readonly RaftCluster cluster;
    private readonly RaftLog wal;
    private readonly PersistentStateShell shell;
    private readonly SnapshottingStateMachine stateMachine;
    private readonly PeerConfigurationStorage membershipStorage;
    private readonly ClusterMetrics metrics;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly LeaderLink link;
    private readonly ClusterView view;
    private readonly MemberStanding standing;
    private readonly LearnerFollower follower;
    private readonly MembershipChanges membership;
    private readonly LeaderBarrier barrier;
    private readonly ProposalPipeline pipeline;
    private readonly PeerRequestClients requestClients;
    private readonly LeaderRequests leaderRequests;
    private readonly IReplicatedStateMachine appliedMachine;
    private readonly PeerListener? ownedPeers;
    private readonly PeerConnector connector;
    private readonly Task snapshotServer;
    private readonly Task requestServer;
    private int disposed;

    private RaftNode(
        RaftNodeOptions options,
        ClusterTopology topology,
        RaftCluster cluster,
        RaftLog wal,
        PersistentStateShell shell,
        SnapshottingStateMachine stateMachine,
        PeerConfigurationStorage membershipStorage,
        ClusterMetrics metrics,
        ILogger logger,
        string dataDirectory,
        ulong? clusterId,
        PeerListener peers,
        bool ownsPeers,
        PeerConnector connector,
        IReplicatedStateMachine appliedMachine)
    {
        this.options = options;
        this.topology = topology;
        this.cluster = cluster;
        this.wal = wal;
        this.shell = shell;
        this.stateMachine = stateMachine;
        this.membershipStorage = membershipStorage;
        this.metrics = metrics;
        this.logger = logger;
        this.appliedMachine = appliedMachine;
        this.connector = connector;
        ownedPeers = ownsPeers ? peers : null;
        var token = stopping.Token;
        link = new LeaderLink(cluster, shell, topology, options.TimeProvider);
        var requestOptions = PeerRequestOptions.For(options);
        requestClients = new PeerRequestClients(requestOptions, metrics, logger, connector);
        standing = new MemberStanding(cluster, link, topology, requestClients, dataDirectory, clusterId, options.TimeProvider, logger, token);
        follower = new LearnerFollower(cluster, link, wal, topology, standing, requestClients, options, logger, token);
        view = new ClusterView(cluster, link, topology, follower);
        leaderRequests = new LeaderRequests(link, requestClients, () => follower.IsLearner ? LearnerFollower.NotForLearner("requests to the leader") : null);
        barrier = new LeaderBarrier(cluster, shell, link, requestClients, topology.Local.Id, () => stateMachine.Restored, options.ReadBarrierTimeout, options.TimeProvider, token);
        pipeline = new ProposalPipeline(cluster, shell, link, barrier, requestClients, stateMachine.Pending, options, metrics, logger, token);
        membership = new MembershipChanges(cluster, link, view, wal, stateMachine, topology, standing, requestClients, options, logger, token);
        // Alone (one voter, no learner fed), nothing reads recent entries from the log's memory (ADR 0017).
        var changes = membership;
        wal.Replicates = () => cluster.Members.Count > 1 || changes.FeedsLearners;
        var followers = new FollowerRequests(cluster, link, view, wal, barrier, membership.IsMemberOrJoining, options, appliedMachine, logger, token);
        var router = new PeerRequestRouter(topology, view, standing, follower, followers, membership, leaderRequests, stateMachine, () => Term);
        cluster.LeaderChanged += OnLeaderChanged;
        snapshotServer = Task.Run(() => new SnapshotServer(peers.SnapshotConnections, stateMachine, metrics, logger, peers.HandshakeTimeout,
            () => options.Faults?.SnapshotServeBytesPerSecond is > 0 and var injected ? injected : options.SnapshotSendBytesPerSecond,
            gone: options.Faults is { } faults ? index => index <= faults.SnapshotsGoneThrough : null).RunAsync(token));
        var requests = new PeerRequestServer(peers.RequestConnections, router.ServeAsync, requestOptions, metrics, logger);
        requestServer = Task.Run(() => requests.RunAsync(token));
        // A member started to join a running cluster may have been added as a learner: find out, and follow if so.
        follower.Start();
    }

    /// <inheritdoc />
    public CancellationToken Stopping => stopping.Token;

    /// <inheritdoc />
    public IMembership Membership => membership;

    /// <inheritdoc />
    public ILeaderRequests LeaderRequests => leaderRequests;

    /// <summary>This member's connections to other members' request channels (tests drop them).</summary>
    internal PeerRequestClients RequestClients => requestClients;

    /// <inheritdoc />
    public bool IsLearner => follower.IsLearner;

    /// <summary>Payload bytes of the Raft log held in memory now (for tests and diagnostics; ADR 0017).</summary>
    internal long LogResidentBytes => wal.ResidentBytes;

    /// <inheritdoc />
    public CancellationToken Removed => standing.Removed;

    /// <inheritdoc />
    public ulong ClusterId => standing.ClusterId;

    /// <inheritdoc />
    public ulong Term => follower.IsLearner
        ? (ulong)Math.Max(follower.FollowedTerm, wal.Term)
        : (ulong)wal.Term;

    /// <inheritdoc />
    public ConsensusStatus Status
    {
        get
        {
            var leader = cluster.Leader;
            var learner = follower.IsLearner;
            return new ConsensusStatus(
                ClusterId,
                topology.Local.Id,
                learner ? follower.FollowedLeader : leader is null ? 0 : ClusterTopology.MemberId(leader.EndPoint),
                learner ? (ulong)Math.Max(follower.FollowedTerm, wal.Term) : (ulong)wal.Term,
                wal.LastCommittedEntryIndex,
                wal.LastAppliedIndex,
                view.CurrentMembers(),
                learner);
        }
    }

    /// <summary>Index of the newest durable snapshot (0 when none); the log behind it is truncated.</summary>
    public long SnapshotIndex => stateMachine.SnapshotIndex;

    /// <inheritdoc />
    public bool IsLeader => view.IsLeader;

    /// <inheritdoc/>
    public Leadership Leadership
    {
        get
        {
            // The token first: if the term check below passes, the token read before it belongs to that leadership or to
            // an earlier one that has ended (cancelled), never to a later one.
            var token = cluster.LeadershipToken;
            return link.TryGetLeadershipTerm(out var term) && !follower.IsLearner ? new Leadership(term, token) : Leadership.None;
        }
    }

    /// <inheritdoc/>
    public async ValueTask<Leadership> WaitForLeadershipAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = link.Changed;
            var leadership = Leadership;
            if (leadership.IsHeld)
            {
                return leadership;
            }

            if (link.Current is { } leader && link.IsLocal(leader) && !follower.IsLearner)
            {
                // Named leader, leadership token not issued yet (DotNext raises LeaderChanged first).
                await link.WaitForChangeOrLeadershipAsync(leader, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Opens the durable state in <see cref="RaftNodeOptions.DataDirectory"/> (newest snapshot, then the log
    /// tail), starts the Raft listener, and joins (or, alone, forms) the cluster.
    /// </summary>
    public static async Task<RaftNode> StartAsync(RaftNodeOptions options, IReplicatedStateMachine stateMachine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stateMachine);
        Validate(options);
        var topology = ClusterTopology.Create(options);
        var loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger<RaftNode>();
        Log.Starting(logger, options.MemberName, topology.Local.Id, options.DataDirectory, options.PeerEndpoint.ToString(), topology.Members.Count);

        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        // Before anything is read or changed (permissions included): a directory of a newer format is refused untouched.
        var format = DataDirectoryFormat.Check(dataDirectory);
        DataDirectoryCheck.Prepare(dataDirectory, logger);
        if (format is null)
        {
            // New, or written before the format file existed (format 1): record it.
            DataDirectoryFormat.Record(dataDirectory);
        }
        RaftLog? wal = null;
        PersistentStateShell? shell = null;
        var metrics = new ClusterMetrics(() => wal?.LastAppliedIndex ?? 0, () => wal?.LastCommittedEntryIndex ?? 0, () => wal?.FirstEntryIndex ?? 0);
        // A lagging member fetches snapshot images from the member that described them, once this node runs.
        RaftNode? node = null;
        SnapshotChunkSource fetch = (snapshot, offset, token) =>
            node?.FetchSnapshotAsync(snapshot, offset, token) ?? throw new InvalidOperationException("This member is still starting.");
        SnapshotHolder hold = (snapshot, token) => node?.HoldSnapshotElsewhereAsync(snapshot, token) ?? Task.CompletedTask;
        var adapter = new SnapshottingStateMachine(
            stateMachine, Path.Combine(dataDirectory, "snap"), options.SnapshotInterval, options.SnapshotLogBytes, topology.Local.Id,
            new PendingBatches(topology.Local.Id), fetch, hold, logger, metrics, options.TimeProvider)
        {
            InstallWait = options.RequestTimeout / 10,
        };
        PeerConfigurationStorage? membership = null;
        RaftCluster? cluster = null;
        var ownPeers = options.PeerListener is null;
        PeerListener? peerListener = null;
        try
        {
            peerListener = options.PeerListener ?? PeerListener.Bind(options.PeerEndpoint, loggerFactory, options.TimeProvider, tls: options.PeerTls);
            adapter.RestoreLatest();
            var logDirectory = Path.Combine(dataDirectory, "log");
            membership = new PeerConfigurationStorage(Path.Combine(dataDirectory, "members"));
            wal = await RaftLog.OpenAsync(logDirectory, options.WalSegmentSize, adapter, membership, logger, cancellationToken, options.LogCacheBytes).ConfigureAwait(false);
            var movedFrom = await membership.PrepareAsync(topology, cancellationToken).ConfigureAwait(false);
            if (movedFrom is not null)
            {
                Log.PeerUrlChanged(logger, movedFrom.ToString() ?? "?", topology.Local.PeerUrl);
            }

            var peers = await ((IClusterConfigurationStorage<EndPoint>)membership).LoadConfigurationAsync(cancellationToken).ConfigureAwait(false);
            if (peers.Members.Count == 1)
            {
                // Alone, DotNext makes this member leader without an election, in the persisted term (0 on a new
                // log). Start a new term as an election would, so terms grow with every start as etcd's do.
                await wal.IncrementTermAsync(ClusterMemberId.FromEndPoint(topology.Local.EndPoint), cancellationToken)
                    .ConfigureAwait(false);
            }

            // Raft travels over the peer listener (its Raft channel), as do the request and snapshot channels; every
            // connection this member opens goes through one connector (TLS when its peers speak it).
            var connector = new PeerConnector(options.PeerTls, loggerFactory.CreateLogger<PeerConnector>(), options.TimeProvider);
            var configuration = new RaftCluster.CustomTransportConfiguration(options.PeerEndpoint, peerListener.RaftTransport, connector)
            {
                PublicEndPoint = topology.Local.EndPoint,
                ConfigurationStorage = membership,
                ColdStart = false,
                LowerElectionTimeout = (int)options.LowerElectionTimeout.TotalMilliseconds,
                UpperElectionTimeout = (int)options.UpperElectionTimeout.TotalMilliseconds,
                RequestTimeout = options.RequestTimeout,
                HeartbeatThreshold = options.HeartbeatInterval / options.LowerElectionTimeout,
                ConnectTimeout = options.RequestTimeout,
                LoggerFactory = new RaftLogFilter(loggerFactory, options.TimeProvider),
            };
            var clusterId = ClusterIdentity.Load(dataDirectory, topology, options.JoinExisting);
            LeaderLink.Describe(configuration.Metadata, topology.Local, clusterId ?? topology.ClusterId);
            shell = PersistentStateShell.Create(Path.Combine(logDirectory, "dotnext-shell"), wal);
            cluster = new RaftCluster(configuration) { AuditTrail = shell };
            await cluster.StartAsync(cancellationToken).ConfigureAwait(false);
            if (cluster.Members.Count == 1)
            {
                // Alone, this member leads at once. The checkpointed commit index may trail the last acknowledged
                // entry (it is persisted after the commit), so commit and apply the whole log before serving:
                // a serializable read right after a restart then sees every acknowledged write.
                await cluster.ApplyReadBarrierAsync(ReadBarrierType.Strong, cancellationToken).ConfigureAwait(false);
            }

            Log.Started(logger, wal.LastEntryIndex, wal.LastCommittedEntryIndex, wal.LastAppliedIndex, adapter.SnapshotIndex);
            node = new RaftNode(options, topology, cluster, wal, shell, adapter, membership, metrics, logger, dataDirectory, clusterId, peerListener, ownPeers, connector, stateMachine);
            return node;
        }
        catch
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync().ConfigureAwait(false);
            }

            if (shell is not null)
            {
                await shell.DisposeAsync().ConfigureAwait(false);
            }

            if (wal is not null)
            {
                await wal.DisposeAsync().ConfigureAwait(false);
            }

            membership?.Dispose();
            await adapter.DisposeAsync().ConfigureAwait(false);
            metrics.Dispose();
            if (ownPeers && peerListener is not null)
            {
                await peerListener.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Reads a snapshot image from the member a descriptor names; only members of the configuration are asked.</summary>
    private IAsyncEnumerable<(long Offset, ReadOnlyMemory<byte> Data)> FetchSnapshotAsync(SnapshotDescriptor snapshot, long offset, CancellationToken cancellationToken)
    {
        // A learner is outside the configuration: it fetches from the leader that feeds it.
        var source = cluster.Members.FirstOrDefault(m => !link.IsLocal(m) && ClusterTopology.MemberId(m.EndPoint) == snapshot.Source)?.EndPoint
            ?? (follower.FollowedPeer is { } fed && ClusterTopology.MemberId(fed) == snapshot.Source ? fed : null)
            ?? throw new SnapshotGoneException($"member {snapshot.Source:x} is not in this member's configuration");
        return SnapshotTransfer.FetchAsync(connector, source, snapshot, offset, topology.Local.Id, options.TimeProvider, cancellationToken);
    }

    /// <summary>
    /// While this member fetches <paramref name="snapshot"/>, asks the other members of its configuration to keep the same
    /// image if they hold it: the one elected if the source fails then offers it, and the fetch continues (ADR 0010).
    /// </summary>
    private async Task HoldSnapshotElsewhereAsync(SnapshotDescriptor snapshot, CancellationToken cancellationToken)
    {
        var others = cluster.Members
            .Where(m => !link.IsLocal(m) && ClusterTopology.MemberId(m.EndPoint) != snapshot.Source)
            .Select(m => m.EndPoint)
            .ToList();
        await Task.WhenAll(others.Select(async member =>
        {
            using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(2), options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutTimer.Token);
            try
            {
                await requestClients.HoldSnapshotAsync(member, snapshot, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException or ArgumentException or NotSupportedException
                                       || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Unreachable, or a member of an older version: it is not asked to keep anything.
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Checks the options a member cannot run with.</summary>
    private static void Validate(RaftNodeOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.DataDirectory, nameof(options.DataDirectory));
        ArgumentNullException.ThrowIfNull(options.PeerEndpoint, nameof(options.PeerEndpoint));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WalSegmentSize, 1024 * 1024, nameof(options.WalSegmentSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchCommands, 1, nameof(options.MaxBatchCommands));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchBytes, 1024, nameof(options.MaxBatchBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxInFlightBatches, 1, nameof(options.MaxInFlightBatches));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxQueuedProposals, 1, nameof(options.MaxQueuedProposals));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SnapshotInterval, 1, nameof(options.SnapshotInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SnapshotLogBytes, 1, nameof(options.SnapshotLogBytes));
        if (options.PeerListener is { } listener && !ReferenceEquals(listener.Tls, options.PeerTls))
        {
            throw new ArgumentException("The peer listener was bound with other TLS settings than RaftNodeOptions.PeerTls: a member's listener and its connections speak the same.", nameof(options));
        }

        if (options.UpperElectionTimeout <= options.LowerElectionTimeout)
        {
            throw new ArgumentException(
                $"UpperElectionTimeout ({options.UpperElectionTimeout}) must be greater than LowerElectionTimeout ({options.LowerElectionTimeout}).",
                nameof(options));
        }
    }

    /// <inheritdoc />
    public ValueTask<object?> ProposeAsync(Command command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (stopping.IsCancellationRequested)
        {
            // Nothing was queued: the caller may send it elsewhere.
            return ValueTask.FromException<object?>(Unavailable.Stopping(notApplied: true));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<object?>(cancellationToken);
        }

        if (follower.IsLearner)
        {
            return ValueTask.FromException<object?>(LearnerFollower.NotForLearner("writes"));
        }

        // Nothing reaches the log that some member could not apply (ADR 0008): every command is checked here, whoever
        // proposes it, and the leader checks forwarded batches again.
        int size;
        try
        {
            size = command.CalculateSize();
            if (size > options.MaxCommandBytes)
            {
                throw new ConclaveErrorException(ErrorCode.RequestTooLarge, $"the command holds {size} bytes; a command holds at most {options.MaxCommandBytes}");
            }

            appliedMachine.ValidateCommand(command);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return ValueTask.FromException<object?>(e);
        }

        // On a follower the pipeline forwards the batch to the leader.
        return pipeline.ProposeAsync(command, size, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask ReadBarrierAsync(CancellationToken cancellationToken = default)
    {
        if (stopping.IsCancellationRequested)
        {
            throw Unavailable.Stopping();
        }

        if (follower.IsLearner)
        {
            throw LearnerFollower.NotForLearner("linearizable reads");
        }

        await barrier.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<long?> LeaderCommitIndexAsync(CancellationToken cancellationToken)
    {
        if (follower.IsLearner)
        {
            throw LearnerFollower.NotForLearner("read indexes");
        }

        var leader = await link.WaitForLeaderAsync(cancellationToken).ConfigureAwait(false);
        if (link.IsLocal(leader))
        {
            return null;
        }

        return (await requestClients.ReadIndexAsync(leader.EndPoint, topology.Local.Id, cancellationToken).ConfigureAwait(false)).CommitIndex;
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        metrics.LeaderChanges.Add(1);
        var term = wal.Term;
        if (leader is null)
        {
            Log.LeaderLost(logger, term);
            return;
        }

        var member = topology.Find(leader.EndPoint);
        Log.LeaderChanged(logger, member?.Name ?? leader.EndPoint.ToString() ?? "?", member?.Id ?? 0, term);
    }

    /// <summary>Stops proposing, fails what is still queued, stops Raft and closes the log.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        var started = options.TimeProvider.GetTimestamp();
        Log.Stopping(logger);
        await stopping.CancelAsync().ConfigureAwait(false);
        await pipeline.DisposeAsync().ConfigureAwait(false);
        await membership.StopAsync().ConfigureAwait(false);
        await follower.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await snapshotServer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await requestServer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await requestClients.DisposeAsync().ConfigureAwait(false);
        cluster.LeaderChanged -= OnLeaderChanged;
        membership.Dispose();
        standing.Dispose();
        await link.DisposeAsync().ConfigureAwait(false);
        await cluster.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await cluster.DisposeAsync().ConfigureAwait(false);
        if (ownedPeers is not null)
        {
            await ownedPeers.DisposeAsync().ConfigureAwait(false);
        }

        await shell.DisposeAsync().ConfigureAwait(false);
        await wal.DisposeAsync().ConfigureAwait(false);
        membershipStorage.Dispose();
        await stateMachine.DisposeAsync().ConfigureAwait(false);
        metrics.Dispose();
        // 'stopping' is not disposed: its token stays observable (Stopping) after the member stopped.
        Log.Stopped(logger, (long)options.TimeProvider.GetElapsedTime(started).TotalMilliseconds);
    }
}

using System.Diagnostics;
using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Raft;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster;

/// <summary>
/// <see cref="IConsensus"/> over DotNext's Raft (TCP transport) and our own log (<see cref="RaftLog"/>). A single member is a
/// one-member cluster on the same code path. Concurrent proposals are batched into one log entry each
/// (<see cref="CommandBatch"/>), and several entries are in flight at once, so the next batch forms while the
/// previous one is replicated and flushed.
/// </summary>
public sealed partial class RaftNode : IConsensus, IMembership
{
    private readonly RaftNodeOptions options;
    private readonly ClusterTopology topology;
    private readonly RaftCluster cluster;
    private readonly RaftLog wal;
    private readonly PersistentStateShell shell;
    private readonly SnapshottingStateMachine stateMachine;
    private readonly PeerConfigurationStorage membership;
    private readonly ClusterMetrics metrics;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly ProposalPipeline pipeline;
    private readonly ReadBarrierCoalescer barriers;
    private readonly ReadBarrierCoalescer commitAnnouncer;
    private readonly LeaderLink link;
    private readonly LeaderBarrier leaderBarrier;
    private readonly string dataDirectory;
    private readonly Peers.PeerListener? ownedPeers;
    private readonly Task snapshotServer;
    private readonly Peers.PeerRequestClients requestClients;
    private readonly LeaderRequests leaderRequests;
    private readonly LearnerFeed learnerFeed;
    private readonly Task requestServer;
    private readonly IReplicatedStateMachine appliedMachine;
    private ulong clusterId;
    private bool adoptClusterId;
    private int disposed;

    private RaftNode(
        RaftNodeOptions options,
        ClusterTopology topology,
        RaftCluster cluster,
        RaftLog wal,
        PersistentStateShell shell,
        SnapshottingStateMachine stateMachine,
        PeerConfigurationStorage membership,
        ClusterMetrics metrics,
        ILogger logger,
        string dataDirectory,
        ulong? clusterId,
        Peers.PeerListener peers,
        bool ownsPeers,
        IReplicatedStateMachine appliedMachine)
    {
        var ownedPeers = ownsPeers ? peers : null;
        this.appliedMachine = appliedMachine;
        this.ownedPeers = ownedPeers;
        this.dataDirectory = dataDirectory;
        this.clusterId = clusterId ?? topology.ClusterId;
        adoptClusterId = clusterId is null;
        // A member joining a running cluster is not in its configuration yet: while it catches up it receives the
        // configuration without itself, which is not a removal. It counts as a member once it is added.
        // A learner (see RaftNode.Learner.cs) is never in the configuration, also after a restart.
        inConfiguration = clusterId is not null && !File.Exists(LearnerMarker(dataDirectory));
        this.options = options;
        this.topology = topology;
        this.cluster = cluster;
        this.wal = wal;
        this.shell = shell;
        this.stateMachine = stateMachine;
        this.membership = membership;
        this.metrics = metrics;
        this.logger = logger;
        link = new LeaderLink(cluster, shell, topology, options.TimeProvider);
        var requestOptions = Peers.PeerRequestOptions.For(options);
        requestClients = new Peers.PeerRequestClients(requestOptions, metrics, logger);
        leaderRequests = new LeaderRequests(link, requestClients, () => isLearner ? NotForLearner("requests to the leader") : null);
        leaderBarrier = new LeaderBarrier(cluster, shell, link, requestClients, topology.Local.Id, () => stateMachine.Restored);
        pipeline = new ProposalPipeline(cluster, shell, link, leaderBarrier, requestClients, stateMachine.Pending, options, metrics, logger, stopping.Token);
        learnerFeed = new LearnerFeed(
            link, wal, stateMachine, topology.Local.Id, requestOptions.MaxPayloadBytes,
            joiningAsVoter: id => joining.TryGetValue(id, out var adding) && !adding.Held,
            notLeader: NotLeaderHere,
            options.Faults, options.TimeProvider, logger, stopping.Token);
        barriers = new ReadBarrierCoalescer(BarrierRoundAsync);
        commitAnnouncer = new ReadBarrierCoalescer(AnnounceCommitAsync);
        cluster.LeaderChanged += OnLeaderChanged;
        cluster.MemberRemoved += OnMemberRemoved;
        cluster.MemberAdded += OnMemberAdded;
        joiner = Task.Run(JoinLoopAsync);
        snapshotServer = Task.Run(() => new SnapshotServer(peers.SnapshotConnections, stateMachine, metrics, logger, peers.HandshakeTimeout).RunAsync(stopping.Token));
        var requests = new Peers.PeerRequestServer(peers.RequestConnections, ServePeerRequestAsync, requestOptions, metrics, logger);
        requestServer = Task.Run(() => requests.RunAsync(stopping.Token));
        // A member started to join a running cluster may have been added as a learner: find out, and follow if so.
        learnerLoop = inConfiguration ? Task.CompletedTask : Task.Run(LearnerLoopAsync);
    }

    /// <inheritdoc />
    public CancellationToken Stopping => stopping.Token;

    /// <inheritdoc />
    public IMembership Membership => this;

    /// <inheritdoc />
    public ulong ClusterId => Volatile.Read(ref clusterId);

    /// <inheritdoc />
    public ulong Term => isLearner
        ? (ulong)Math.Max(Volatile.Read(ref followedTerm), wal.Term)
        : (ulong)wal.Term;

    /// <inheritdoc />
    public ConsensusStatus Status
    {
        get
        {
            var leader = cluster.Leader;
            var learner = isLearner;
            return new ConsensusStatus(
                ClusterId,
                topology.Local.Id,
                learner ? Volatile.Read(ref followedLeader) : leader is null ? 0 : ClusterTopology.MemberId(leader.EndPoint),
                learner ? (ulong)Math.Max(Volatile.Read(ref followedTerm), wal.Term) : (ulong)wal.Term,
                wal.LastCommittedEntryIndex,
                wal.LastAppliedIndex,
                CurrentMembers(),
                learner);
        }
    }

    /// <summary>The configuration as this member knows it now, without asking anyone (names of members added at runtime may be empty).</summary>
    private MemberInfo[] CurrentMembers() =>
        [.. ConfiguredMembers().Select(m => topology.Find(m.EndPoint)?.ToInfo()
            ?? new MemberInfo(ClusterTopology.MemberId(m.EndPoint), "", [ClusterTopology.PeerUrlOf(m.EndPoint)], [], IsLearner: false))];

    /// <summary>
    /// The Raft configuration's members. A learner has only the list it was started with, which names itself: it is
    /// not a voting member, so it is left out.
    /// </summary>
    private IEnumerable<RaftClusterMember> ConfiguredMembers() =>
        isLearner ? cluster.Members.Where(m => !link.IsLocal(m)) : cluster.Members;

    /// <summary>Index of the newest durable snapshot (0 when none); the log behind it is truncated.</summary>
    public long SnapshotIndex => stateMachine.SnapshotIndex;

    /// <inheritdoc />
    public bool IsLeader => !cluster.LeadershipToken.IsCancellationRequested;

    /// <inheritdoc/>
    public Leadership Leadership
    {
        get
        {
            // The token first: if the term check below passes, the token read before it belongs to that leadership or to
            // an earlier one that has ended (cancelled), never to a later one.
            var token = cluster.LeadershipToken;
            return link.TryGetLeadershipTerm(out var term) && !isLearner ? new Leadership(term, token) : Leadership.None;
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
        DataDirectoryCheck.Prepare(dataDirectory, logger);
        RaftLog? wal = null;
        PersistentStateShell? shell = null;
        var metrics = new ClusterMetrics(() => wal?.LastAppliedIndex ?? 0, () => wal?.LastCommittedEntryIndex ?? 0, () => wal?.FirstEntryIndex ?? 0);
        // A lagging member fetches snapshot images from the member that described them, once this node runs.
        RaftNode? node = null;
        SnapshotChunkSource fetch = (snapshot, offset, token) =>
            node?.FetchSnapshotAsync(snapshot, offset, token) ?? throw new InvalidOperationException("This member is still starting.");
        var adapter = new SnapshottingStateMachine(
            stateMachine, Path.Combine(dataDirectory, "snap"), options.SnapshotInterval, options.SnapshotLogBytes, topology.Local.Id,
            new PendingBatches(topology.Local.Id), fetch, logger, metrics, options.TimeProvider)
        {
            InstallWait = options.RequestTimeout / 10,
        };
        PeerConfigurationStorage? membership = null;
        RaftCluster? cluster = null;
        var ownPeers = options.PeerListener is null;
        Peers.PeerListener? peerListener = null;
        try
        {
            peerListener = options.PeerListener ?? Peers.PeerListener.Bind(options.PeerEndpoint, loggerFactory, options.TimeProvider);
            adapter.RestoreLatest();
            var logDirectory = Path.Combine(dataDirectory, "log");
            membership = new PeerConfigurationStorage(Path.Combine(dataDirectory, "members"));
            wal = await RaftLog.OpenAsync(logDirectory, options.WalSegmentSize, adapter, membership, logger, cancellationToken).ConfigureAwait(false);
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

            // Raft travels over the peer listener (its Raft channel), which also carries the members' gRPC channel.
            var configuration = new RaftCluster.CustomTransportConfiguration(options.PeerEndpoint, peerListener.RaftTransport, Peers.PeerConnector.Raft)
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
            node = new RaftNode(options, topology, cluster, wal, shell, adapter, membership, metrics, logger, dataDirectory, clusterId, peerListener, ownPeers, stateMachine);
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
            ?? (Volatile.Read(ref followedPeer) is { } fed && ClusterTopology.MemberId(fed) == snapshot.Source ? fed : null)
            ?? throw new SnapshotGoneException($"member {snapshot.Source:x} is not in this member's configuration");
        return SnapshotTransfer.FetchAsync(source, snapshot, offset, topology.Local.Id, options.TimeProvider, cancellationToken);
    }

    /// <summary>Serves snapshot fetches arriving on the peer listener's snapshot channel until this member stops.</summary>
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

        if (isLearner)
        {
            return ValueTask.FromException<object?>(NotForLearner("writes"));
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

    /// <summary>
    /// Leader side of forwarding: appends a follower's batch (a serialized <see cref="CommandBatch"/>) as one
    /// entry and returns once it is committed. The follower gets its results from its own apply of the entry.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">
    /// Not the leader (<see cref="ConsensusUnavailableException.NotApplied"/>), or the outcome is unknown.
    /// </exception>
    /// <exception cref="ArgumentException">The batch was refused by the check (ADR 0008); nothing was appended.</exception>
    internal async ValueTask AppendForwardedAsync(ulong fromMember, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        if (stopping.IsCancellationRequested)
        {
            throw Unavailable.Stopping(notApplied: true);
        }

        if (!link.TryGetLeadershipTerm(out var term))
        {
            throw NotLeaderHere();
        }

        try
        {
            ForwardedBatch.Validate(batch.Span, fromMember, id => MemberById(id) is not null || joining.ContainsKey(id), options, appliedMachine);
        }
        catch (ArgumentException e)
        {
            Log.ForwardedBatchInvalid(logger, fromMember, e.Message);
            throw;
        }

        using var timeout = new CancellationTokenSource(options.ProposalTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, stopping.Token);
        var entry = new BinaryLogEntry { Content = batch, Term = term };
        try
        {
            await cluster.ReplicateAsync(entry, linked.Token).ConfigureAwait(false);
        }
        catch (NotLeaderException e)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderChanged, "Leadership was lost before the forwarded batch committed; its outcome is unknown.", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.ProposalTimedOut, "The forwarded batch was not committed in time; its outcome is unknown.", e);
        }

        // The follower answers its clients when it applies the entry, and it learns that the entry committed only
        // from the next AppendEntries. Send that now (one round for all batches committed meanwhile) instead of
        // leaving it to the next heartbeat, which would add up to a heartbeat interval to every forwarded write.
        _ = commitAnnouncer.WaitAsync(CancellationToken.None).ContinueWith(
            static t => _ = t.Exception,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// Leader side of a follower's read barrier: confirms this member still leads a quorum and returns the commit
    /// index the follower must apply before it reads.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">Not the leader (<see cref="ConsensusUnavailableException.NotApplied"/>).</exception>
    internal async ValueTask<long> ConfirmLeadershipAsync(CancellationToken cancellationToken)
    {
        if (!IsLeader)
        {
            throw NotLeaderHere();
        }

        var term = Term;
        await ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        if (!IsLeader || Term != term)
        {
            throw NotLeaderHere();
        }

        return wal.LastCommittedEntryIndex;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberInfo>> MembersAsync(CancellationToken cancellationToken)
    {
        var result = new List<MemberInfo>();
        foreach (var member in ConfiguredMembers())
        {
            var known = topology.Find(member.EndPoint);
            if (known is not null && (known.ClientUrls.Count > 0 || !member.IsRemote))
            {
                result.Add(known.ToInfo());
                continue;
            }

            IReadOnlyDictionary<string, string>? metadata = null;
            try
            {
                using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(1), options.TimeProvider);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutTimer.Token);
                metadata = await LeaderLink.MetadataAsync(member, timeout.Token).ConfigureAwait(false);
            }
            catch (ConsensusUnavailableException)
            {
                // Unreachable now and never seen: list what the configuration says.
            }

            var name = metadata?.GetValueOrDefault(LeaderLink.NameKey) ?? known?.Name ?? "";
            var id = ClusterTopology.MemberId(member.EndPoint);
            var clientUrls = metadata?.GetValueOrDefault(LeaderLink.ClientUrlsKey)?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
            var peerUrl = known?.PeerUrl ?? ClusterTopology.PeerUrlOf(member.EndPoint);
            result.Add(new MemberInfo(id, name, [peerUrl], clientUrls, IsLearner: false));
        }

        // Added but not joined yet (the leader keeps trying): listed as etcd lists an unstarted member, without a name.
        result.AddRange(joining.Values.Select(static j => new MemberInfo(j.Id, "", [j.PeerUrl], [], IsLearner: false)));
        return result;
    }

    private ConsensusUnavailableException NotLeaderHere()
    {
        var leader = topology.Find(cluster.Leader?.EndPoint);
        return new ConsensusUnavailableException(
            ConsensusUnavailableReason.NotLeader,
            leader is null ? "This member is not the leader and knows no leader." : $"This member is not the leader; {leader.Name} is.",
            notApplied: true);
    }

    /// <inheritdoc />
    public async ValueTask ReadBarrierAsync(CancellationToken cancellationToken = default)
    {
        if (stopping.IsCancellationRequested)
        {
            throw Unavailable.Stopping();
        }

        if (isLearner)
        {
            throw NotForLearner("linearizable reads");
        }

        await barriers.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One replication round that tells the followers the new commit index.</summary>
    private async Task AnnounceCommitAsync(CancellationToken cancellationToken)
    {
        if (!IsLeader || stopping.IsCancellationRequested)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(options.RequestTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping.Token);
        try
        {
            await cluster.ForceReplicationAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or NotLeaderException or ObjectDisposedException)
        {
            // Best effort: the next heartbeat carries the commit index anyway.
        }
    }

    /// <summary>One shared barrier round (see <see cref="ReadBarrierCoalescer"/>).</summary>
    private async Task BarrierRoundAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.ReadBarrierTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, stopping.Token);
        try
        {
            while (true)
            {
                var leader = await link.WaitForLeaderAsync(linked.Token).ConfigureAwait(false);
                try
                {
                    await leaderBarrier.PassAsync(leader, linked.Token).ConfigureAwait(false);
                    return;
                }
                catch (ConsensusUnavailableException e) when (e.NotApplied)
                {
                    // That member stopped leading before it answered (ask the next one), or this member was named
                    // leader a moment before it took office (ask again once it has).
                    await link.WaitForChangeOrLeadershipAsync(leader, linked.Token).ConfigureAwait(false);
                }
                catch (Peers.PeerRequestException e) when (!linked.IsCancellationRequested)
                {
                    throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderUnreachable, $"Read barrier failed: the leader could not be reached ({e.Message}).", e);
                }
            }
        }
        catch (OperationCanceledException e) when (stopping.IsCancellationRequested)
        {
            throw Unavailable.Stopping(e);
        }
        catch (OperationCanceledException e)
        {
            throw new ConsensusUnavailableException(
                ConsensusUnavailableReason.ReadTimedOut,
                $"Read barrier timed out after {options.ReadBarrierTimeout.TotalMilliseconds:0} ms: no leader, or the leader cannot reach a quorum.", e);
        }
        catch (QuorumUnreachableException e)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.NoLeader, "Read barrier failed: no leader is known.", e);
        }
        catch (ObjectDisposedException e)
        {
            throw Unavailable.Stopping(e);
        }
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        metrics.LeaderChanges.Add(1);
        if (!joining.IsEmpty)
        {
            joinSignal.Release(); // a leader that stepped down hands its joining members over
        }

        var term = wal.Term;
        var member = topology.Find(leader?.EndPoint);
        if (leader is null)
        {
            Log.LeaderLost(logger, term);
        }
        else
        {
            Log.LeaderChanged(logger, member?.Name ?? leader.EndPoint.ToString() ?? "?", member?.Id ?? 0, term);
            if (adoptClusterId && leader.IsRemote)
            {
                _ = AdoptClusterIdAsync(leader);
            }
        }
    }

    /// <summary>A member that joined a running cluster takes the cluster's id from the first leader it hears from.</summary>
    private async Task AdoptClusterIdAsync(RaftClusterMember leader)
    {
        try
        {
            using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(2), options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token, timeoutTimer.Token);
            var metadata = await LeaderLink.MetadataAsync(leader, timeout.Token).ConfigureAwait(false);
            if (ulong.TryParse(metadata.GetValueOrDefault(LeaderLink.ClusterIdKey), out var id))
            {
                AdoptClusterId(id);
            }
        }
        catch (Exception e) when (e is ConsensusUnavailableException or OperationCanceledException or IOException)
        {
            // The next leader change tries again.
        }
    }

    /// <summary>A member that joined a running cluster takes the cluster's id (once, and keeps it in its data directory).</summary>
    private void AdoptClusterId(ulong id)
    {
        if (adoptClusterId && id != 0)
        {
            adoptClusterId = false;
            Volatile.Write(ref clusterId, id);
            ClusterIdentity.Save(dataDirectory, id);
        }
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
        joinSignal.Release();
        await joiner.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        learnerFeed.EndAll();

        await learnerLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await snapshotServer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await requestServer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await requestClients.DisposeAsync().ConfigureAwait(false);
        cluster.LeaderChanged -= OnLeaderChanged;
        cluster.MemberRemoved -= OnMemberRemoved;
        cluster.MemberAdded -= OnMemberAdded;
        await link.DisposeAsync().ConfigureAwait(false);
        await cluster.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await cluster.DisposeAsync().ConfigureAwait(false);
        if (ownedPeers is not null)
        {
            await ownedPeers.DisposeAsync().ConfigureAwait(false);
        }

        await shell.DisposeAsync().ConfigureAwait(false);
        await wal.DisposeAsync().ConfigureAwait(false);
        membership.Dispose();
        await stateMachine.DisposeAsync().ConfigureAwait(false);
        metrics.Dispose();
        // 'stopping' is not disposed: its token stays observable (Stopping) after the member stopped.
        Log.Stopped(logger, (long)options.TimeProvider.GetElapsedTime(started).TotalMilliseconds);
    }
}

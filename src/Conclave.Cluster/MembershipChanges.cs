using System.Collections.Concurrent;
using System.Net;
using Conclave.Api.ClusterInternal;
using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// The members and changes to them (etcd's MemberList / MemberAdd / MemberRemove / MemberPromote) on DotNext's
/// single-server changes, and the leader's side of learners (<see cref="LearnerFeed"/>).
/// </summary>
/// <remarks>
/// etcd adds a member to the configuration first and the new member starts afterwards. DotNext instead replicates
/// the log to the new member (it must be running) and only then commits the configuration that includes it, so a
/// new member that is slow or absent never counts toward the quorum. Conclave keeps etcd's order for the operator:
/// <see cref="AddMemberAsync"/> records the member on the leader as joining and returns its id at once; the leader
/// keeps trying DotNext's catch-up-then-commit until the member (started with
/// <c>--initial-cluster-state existing</c>) listens. One change at a time, as DotNext enforces. A joining member is
/// held in the leader's memory: a leader that steps down hands it to the next one; RecordedMembership also records the
/// addition in the keyspace, so that the next leader continues it if the leader fails first.
/// </remarks>
internal sealed class MembershipChanges : IMembership, IDisposable
{
    /// <summary>How long a leader waits for a promoted learner to say it left learner mode.</summary>
    private static readonly TimeSpan PromotedAckWait = TimeSpan.FromSeconds(5);

    private readonly RaftCluster cluster;
    private readonly LeaderLink link;
    private readonly ClusterView view;
    private readonly RaftLog wal;
    private readonly ClusterTopology topology;
    private readonly MemberStanding standing;
    private readonly PeerRequestClients requests;
    private readonly LearnerFeed feed;
    private readonly RaftNodeOptions options;
    private readonly ILogger logger;
    private readonly CancellationToken stopping;
    private readonly ConcurrentDictionary<ulong, JoiningMember> joining = new();
    private readonly SemaphoreSlim joinSignal = new(0);
    private readonly Task joiner;
    private TaskCompletionSource membersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MembershipChanges(
        RaftCluster cluster, LeaderLink link, ClusterView view, RaftLog wal, SnapshottingStateMachine stateMachine, ClusterTopology topology,
        MemberStanding standing, PeerRequestClients requests, RaftNodeOptions options, ILogger logger, CancellationToken stopping)
    {
        this.cluster = cluster;
        this.link = link;
        this.view = view;
        this.wal = wal;
        this.topology = topology;
        this.standing = standing;
        this.requests = requests;
        this.options = options;
        this.logger = logger;
        this.stopping = stopping;
        feed = new LearnerFeed(
            link, wal, stateMachine, topology.Local.Id, requests.Options.MaxPayloadBytes,
            joiningAsVoter: id => joining.TryGetValue(id, out var adding) && !adding.Held,
            notLeader: view.NotLeaderHere,
            options.Faults, options.TimeProvider, logger, stopping);
        cluster.LeaderChanged += OnLeaderChanged;
        cluster.MemberAdded += OnMembersChanged;
        cluster.MemberRemoved += OnMembersChanged;
        joiner = Task.Run(JoinLoopAsync);
    }

    /// <summary>Whether this member feeds any learner now.</summary>
    public bool FeedsLearners => feed.HasSessions;

    /// <summary>The leader's side of the learners' feed.</summary>
    public LearnerFeed Feed => feed;

    /// <summary>Whether member <paramref name="id"/> is in the configuration or joining it (its forwarded batches are accepted).</summary>
    public bool IsMemberOrJoining(ulong id) => view.MemberById(id) is not null || joining.ContainsKey(id);

    /// <summary>Ends the join loop and every learner's feed (the member stops; the stopping token is cancelled first).</summary>
    public async Task StopAsync()
    {
        joinSignal.Release();
        await joiner.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        feed.EndAll();
    }

    public void Dispose()
    {
        cluster.LeaderChanged -= OnLeaderChanged;
        cluster.MemberAdded -= OnMembersChanged;
        cluster.MemberRemoved -= OnMembersChanged;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberInfo>> MembersAsync(CancellationToken cancellationToken)
    {
        var result = new List<MemberInfo>();
        foreach (var member in view.ConfiguredMembers())
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
            var peerUrl = known?.PeerUrl ?? topology.PeerUrlOf(member.EndPoint);
            result.Add(new MemberInfo(id, name, [peerUrl], clientUrls, IsLearner: false));
        }

        // Added but not joined yet (the leader keeps trying): listed as etcd lists an unstarted member, without a name.
        // A member that just joined stays in 'joining' for a moment after the configuration lists it: listed once.
        result.AddRange(joining.Values
            .Where(j => !result.Any(m => m.Id == j.Id))
            .Select(static j => new MemberInfo(j.Id, "", [j.PeerUrl], [], IsLearner: false)));
        return result;
    }

    /// <inheritdoc />
    public ValueTask<MemberInfo> AddMemberAsync(string peerUrl, bool isLearner, CancellationToken cancellationToken)
    {
        if (!view.IsLeader)
        {
            throw view.NotLeaderHere();
        }

        EndPoint endpoint;
        try
        {
            endpoint = ClusterTopology.ParsePeerUrl("new member", peerUrl);
        }
        catch (ArgumentException e)
        {
            throw new MembershipException(MembershipError.BadUrl, e.Message);
        }

        if (!peerUrl.StartsWith(topology.PeerScheme + "://", StringComparison.OrdinalIgnoreCase))
        {
            // Members all speak TLS to each other or none does: a member this one could not talk to would never join.
            throw new MembershipException(MembershipError.BadUrl, topology.PeerScheme == "https"
                ? $"peer URL {peerUrl}: this cluster's members speak TLS to each other, so peer URLs are https://"
                : $"peer URL {peerUrl}: this cluster's members speak plain TCP to each other, so peer URLs are http:// (every member needs https:// peer URLs and --peer-cert-file for TLS)");
        }

        var id = ClusterTopology.MemberId(endpoint);
        if (view.MemberById(id) is not null || joining.ContainsKey(id))
        {
            throw new MembershipException(MembershipError.PeerUrlExists, $"a member with peer URL {peerUrl} already exists");
        }

        if (isLearner)
        {
            // Not part of the Raft configuration: RecordedMembership records it (in the system keyspace) and it follows the log.
            return ValueTask.FromResult(new MemberInfo(id, "", [peerUrl], [], IsLearner: true));
        }

        lock (joining)
        {
            if (!joining.IsEmpty)
            {
                throw new MembershipException(MembershipError.InProgress,
                    $"another member ({string.Join(", ", joining.Values.Select(static j => j.PeerUrl))}) is still joining: one membership change at a time");
            }

            joining[id] = new JoiningMember(id, peerUrl, endpoint);
        }

        Log.MemberJoining(logger, peerUrl, id);
        joinSignal.Release();
        return ValueTask.FromResult(new MemberInfo(id, "", [peerUrl], [], IsLearner: false));
    }

    /// <inheritdoc />
    public async ValueTask RemoveMemberAsync(ulong memberId, CancellationToken cancellationToken)
    {
        if (joining.TryRemove(memberId, out var pending))
        {
            Log.MemberJoinCancelled(logger, pending.PeerUrl, memberId);
            return;
        }

        var member = view.MemberById(memberId)
            ?? throw new MembershipException(MembershipError.NotFound, $"no member has id {memberId:x}");
        if (!view.IsLeader)
        {
            throw view.NotLeaderHere();
        }

        if (cluster.Members.Count == 1)
        {
            throw new MembershipException(MembershipError.NotEnoughMembers, "the last member of a cluster cannot be removed");
        }

        if (link.IsLocal(member))
        {
            // DotNext's leader that removes itself steps down as soon as it appends the new configuration, before
            // it commits, and the change can be lost. So the leader steps aside first: in standby it follows but
            // never stands for election (a plain resignation was seen winning the next election again and again),
            // and the caller asks the next leader, which removes this member as a follower. If no leader removes
            // it in a while, it returns to normal.
            if (await cluster.EnableStandbyModeAsync(cancellationToken).ConfigureAwait(false))
            {
                Log.SteppingAsideForRemoval(logger);
                _ = Task.Delay(TimeSpan.FromSeconds(30), options.TimeProvider, stopping).ContinueWith(
                    async _ =>
                    {
                        if (!standing.Removed.IsCancellationRequested && !stopping.IsCancellationRequested)
                        {
                            await cluster.RevertToNormalModeAsync(CancellationToken.None).ConfigureAwait(false);
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion,
                    TaskScheduler.Default);
            }

            throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderChanged, "This member leads and is the one to remove: it stepped aside so that the next leader removes it.", notApplied: true);
        }

        using var timeoutTimer = new CancellationTokenSource(options.ProposalTimeout, options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping, timeoutTimer.Token);
        bool done;
        try
        {
            done = await cluster.RemoveMemberAsync(member.EndPoint, timeout.Token).ConfigureAwait(false);
        }
        catch (RaftCluster.ConcurrentMembershipModificationException e)
        {
            throw new MembershipException(MembershipError.InProgress, "another membership change is in progress: one at a time", e);
        }
        catch (NotLeaderException e)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderChanged, "Leadership was lost before the membership change committed; its outcome is unknown.", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.ProposalTimedOut, "The membership change was not committed in time; its outcome is unknown.", e);
        }

        if (!done)
        {
            throw new MembershipException(MembershipError.NotFound, $"member {memberId:x} is not in the configuration");
        }

        // Committed. DotNext updates its member list afterwards, in the background (seen to lag for seconds under
        // load); give it a moment so the answer lists the new configuration, but the change is made either way.
        using (var settleTimer = new CancellationTokenSource(TimeSpan.FromSeconds(3), options.TimeProvider))
        using (var settle = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, settleTimer.Token))
        {
            try
            {
                await WaitForMembershipAsync(memberId, listed: false, settle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Log.MemberListLagging(logger, memberId);
            }
        }

        Log.MemberRemoved(logger, member.EndPoint.ToString() ?? "?", memberId);
        // Tell it, on its peer listener (it stops hearing from the leader); it checks with the members it knows.
        try
        {
            using var notify = new CancellationTokenSource(TimeSpan.FromSeconds(2), options.TimeProvider);
            await requests.NotifyRemovedAsync(member.EndPoint, memberId, notify.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Peers.PeerRequestException or ConsensusUnavailableException or OperationCanceledException)
        {
            // Best effort: without the notice it finds no leader and reports itself unhealthy.
        }
    }

    /// <inheritdoc />
    public void ServeLearners(ILearnerDirectory directory) => feed.Use(directory);

    /// <inheritdoc />
    public async ValueTask PromoteLearnerAsync(ulong memberId, string peerUrl, CancellationToken cancellationToken)
    {
        if (!view.IsLeader)
        {
            throw view.NotLeaderHere();
        }

        var endpoint = ClusterTopology.ParsePeerUrl("learner", peerUrl);
        var commit = wal.LastCommittedEntryIndex;
        if (!link.TryGetLeadershipTerm(out var term) || feed.Following(memberId, term) is not { } session)
        {
            throw new MembershipException(MembershipError.LearnerNotReady, $"learner {memberId:x} is not following this leader now");
        }

        // etcd's rule: a learner is ready once it holds at least 90% of the leader's log.
        if (session.CommittedIndex < commit * 9 / 10)
        {
            throw new MembershipException(MembershipError.LearnerNotReady,
                $"learner {memberId:x} has committed {session.CommittedIndex} of the leader's {commit} entries");
        }

        lock (joining)
        {
            if (!joining.IsEmpty)
            {
                throw new MembershipException(MembershipError.InProgress,
                    $"another member ({string.Join(", ", joining.Values.Select(static j => j.PeerUrl))}) is still joining: one membership change at a time");
            }

            if (!session.TryStartPromotion())
            {
                throw new MembershipException(MembershipError.LearnerNotReady, $"learner {memberId:x} stopped following");
            }

            // Held: the join loop must not start replicating to it while it still appends from the feed.
            joining[memberId] = new JoiningMember(memberId, peerUrl, endpoint) { Held = true };
        }

        long handedOverAt;
        try
        {
            handedOverAt = await session.HandedOver.Task.WaitAsync(TimeSpan.FromSeconds(5), options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            if (session.TryCancelPromotion())
            {
                joining.TryRemove(memberId, out _);
                throw new MembershipException(MembershipError.LearnerNotReady, $"learner {memberId:x} did not confirm what it holds in time; it keeps following", e);
            }

            try
            {
                // Handed over just now: continue.
                handedOverAt = await session.HandedOver.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The feed ended first (the learner was removed, or this member stops leading): whether it heard is
                // unknown. It goes back to following if it is not added soon (see LearnerLoopAsync); the operator may
                // promote again.
                joining.TryRemove(memberId, out _);
                throw new MembershipException(MembershipError.LearnerNotReady, $"learner {memberId:x} went away while being promoted; it keeps following");
            }
        }

        // The learner leaves learner mode and then says so (see FollowAsync): waiting for that means that when
        // MemberPromote returns, the member no longer refuses writes as a learner. Bounded: an answer lost on the way is
        // covered by the member list (the learner asks how it is listed).
        try
        {
            // Not the caller's token: the member is held as joining until this method moves on, so giving up here would
            // leave it held and block every later membership change.
            await session.LeftLearnerModeTask.WaitAsync(PromotedAckWait, options.TimeProvider, stopping).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        if (options.Faults?.HandOverDelay is { } delay && delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, options.TimeProvider, CancellationToken.None).ConfigureAwait(false);
        }

        Log.PromotingLearner(logger, memberId, handedOverAt);
        joining[memberId] = new JoiningMember(memberId, peerUrl, endpoint);
        joinSignal.Release();
        using var timeoutTimer = new CancellationTokenSource(options.ProposalTimeout + TimeSpan.FromSeconds(20), options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping, timeoutTimer.Token);
        try
        {
            await WaitForMembershipAsync(memberId, listed: true, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConsensusUnavailableException(
                ConsensusUnavailableReason.ProposalTimedOut,
                $"Learner {memberId:x} stopped following but is not a voting member yet; the leader keeps adding it (see member list).", e);
        }
    }

    /// <inheritdoc />
    public Task ConfigurationChanged => Volatile.Read(ref membersChanged).Task;

    /// <inheritdoc />
    public void DropFollower(ulong memberId)
    {
        feed.Drop(memberId);
    }

    /// <summary>How member <paramref name="memberId"/> is listed here (it asks while it starts to join).</summary>
    public RoleResponse DescribeRole(ulong memberId)
    {
        // This member's own view, without asking anyone (MembersAsync would fetch client URLs it does not need here).
        var directory = feed.Directory;
        var answer = new RoleResponse { ClusterId = standing.ClusterId };
        if (joining.ContainsKey(memberId) || view.ConfiguredMembers().Any(m => ClusterTopology.MemberId(m.EndPoint) == memberId))
        {
            // Raft's view shadows the record: a learner being promoted is listed as the voter it becomes.
            answer.Listed = true;
        }
        else if (directory.IsLearner(memberId))
        {
            answer.Listed = true;
            answer.Learner = true;
            answer.VoterPeerUrls.AddRange(view.ConfiguredMembers().Select(voter => topology.PeerUrlOf(voter.EndPoint)));
        }

        return answer;
    }

    /// <summary>On the leader, keeps trying to bring joining members in (catch up, then commit the configuration).</summary>
    private async Task JoinLoopAsync()
    {
        var token = stopping;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await joinSignal.WaitAsync(joining.IsEmpty ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            foreach (var member in joining.Values.Where(static j => !j.Held))
            {
                if (token.IsCancellationRequested || !view.IsLeader)
                {
                    break;
                }

                await TryJoinAsync(member, token).ConfigureAwait(false);
            }

            if (!view.IsLeader && !joining.IsEmpty)
            {
                // Only the leader changes the configuration: hand the joining members to the next leader. If that
                // fails (or this member crashed instead), the operator adds the member again.
                foreach (var member in joining.Values.Where(static j => !j.Held))
                {
                    if (!await HandOverJoinAsync(member, token).ConfigureAwait(false))
                    {
                        Log.MemberJoinDropped(logger, member.PeerUrl, member.Id);
                    }
                }

                joining.Clear();
            }
        }
    }

    private async Task<bool> HandOverJoinAsync(JoiningMember member, CancellationToken token)
    {
        try
        {
            using var timeoutTimer = new CancellationTokenSource(options.LeaderWaitTimeout, options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token, timeoutTimer.Token);
            var leader = await link.WaitForLeaderAsync(timeout.Token).ConfigureAwait(false);
            while (link.IsLocal(leader))
            {
                // Still named leader for a moment after stepping down: wait for the next one.
                await link.WaitForChangeFromAsync(leader, timeout.Token).ConfigureAwait(false);
                leader = await link.WaitForLeaderAsync(timeout.Token).ConfigureAwait(false);
            }

            try
            {
                await requests.JoinAsync(leader.EndPoint, member.PeerUrl, timeout.Token).ConfigureAwait(false);
            }
            catch (MembershipException e) when (e.Error is MembershipError.PeerUrlExists)
            {
                // The next leader has it already (from the joining record, see JoiningKeeper).
            }

            Log.MemberJoinHandedOver(logger, member.PeerUrl, member.Id);
            return true;
        }
        catch (Exception e) when (e is PeerRequestException or MembershipException or ConsensusUnavailableException or OperationCanceledException)
        {
            return false;
        }
    }

    private async Task TryJoinAsync(JoiningMember member, CancellationToken token)
    {
        // DotNext holds its membership lock while it tries to catch a new member up, for as long as it keeps
        // failing; only start once the member listens, so a member not started yet blocks no other change.
        if (!await ListensAsync(member.EndPoint, token).ConfigureAwait(false))
        {
            return;
        }

        // Ends with this member's leadership, so that a joining member is handed over at once (JoinLoopAsync).
        // Catch-up of the whole state may take a while; a member that does not answer fails fast.
        using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(60), options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token, cluster.LeadershipToken, timeoutTimer.Token);
        try
        {
            if (await cluster.AddMemberAsync(member.EndPoint, timeout.Token).ConfigureAwait(false))
            {
                await WaitForMembershipAsync(member.Id, listed: true, timeout.Token).ConfigureAwait(false);
                joining.TryRemove(member.Id, out _);
                Log.MemberJoined(logger, member.PeerUrl, member.Id);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
        {
            // Not running yet, not reachable, or leadership moved: try again on the next round.
            Log.MemberJoinAttemptFailed(logger, member.PeerUrl, e.Message);
        }
    }

    /// <summary>Waits until DotNext's member list does (or does not) hold member <paramref name="id"/>.</summary>
    private async Task WaitForMembershipAsync(ulong id, bool listed, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = membersChanged.Task;
            if (view.MemberById(id) is not null == listed)
            {
                return;
            }

            // The signal comes from DotNext's member events; re-check now and then in case one is not raised.
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(100), options.TimeProvider, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private async Task<bool> ListensAsync(EndPoint endpoint, CancellationToken token)
    {
        using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(1), options.TimeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token, timeoutTimer.Token);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private sealed record JoiningMember(ulong Id, string PeerUrl, EndPoint EndPoint)
    {
        /// <summary>A learner being promoted that may still append from its feed: not to be replicated to yet.</summary>
        public bool Held { get; init; }
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        if (!joining.IsEmpty)
        {
            joinSignal.Release(); // a leader that stepped down hands its joining members over
        }
    }

    private void OnMembersChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> e) =>
        Interlocked.Exchange(ref membersChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

}

/// <summary>Why a membership change was refused.</summary>
public enum MembershipError
{
    BadUrl,
    PeerUrlExists,
    NotFound,
    InProgress,
    NotEnoughMembers,
    NotSupported,
    LearnerNotReady,

    /// <summary>The member to promote is a voting member already.</summary>
    NotLearner,
}

/// <summary>A membership change that was refused; nothing changed.</summary>
public sealed class MembershipException(MembershipError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public MembershipError Error { get; } = error;
}

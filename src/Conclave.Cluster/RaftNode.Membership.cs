using System.Collections.Concurrent;
using System.Net;
using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>Runtime membership changes (etcd's MemberAdd / MemberRemove) on DotNext's single-server changes.</summary>
/// <remarks>
/// etcd adds a member to the configuration first and the new member starts afterwards. DotNext instead replicates
/// the log to the new member (it must be running) and only then commits the configuration that includes it, so a
/// new member that is slow or absent never counts toward the quorum. Conclave keeps etcd's order for the operator:
/// <see cref="AddMemberAsync"/> records the member on the leader as joining and returns its id at once; the leader
/// keeps trying DotNext's catch-up-then-commit until the member (started with
/// <c>--initial-cluster-state existing</c>) listens. One change at a time, as DotNext enforces. A joining member is
/// held in the leader's memory: a leader that steps down hands it to the next one; the server also records the
/// addition in the keyspace, so that the next leader continues it if the leader fails first.
/// </remarks>
public sealed partial class RaftNode
{
    private readonly ConcurrentDictionary<ulong, JoiningMember> joining = new();
    private readonly SemaphoreSlim joinSignal = new(0);
    private readonly CancellationTokenSource removed = new();
    private readonly Task joiner;
    private int removedMarked;
    private bool inConfiguration;
    private TaskCompletionSource membersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public CancellationToken Removed => removed.Token;

    /// <inheritdoc />
    public ValueTask<MemberInfo> AddMemberAsync(string peerUrl, bool isLearner, CancellationToken cancellationToken)
    {
        if (!IsLeader)
        {
            throw NotLeaderHere();
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

        var id = ClusterTopology.MemberId(endpoint);
        if (MemberById(id) is not null || joining.ContainsKey(id))
        {
            throw new MembershipException(MembershipError.PeerUrlExists, $"a member with peer URL {peerUrl} already exists");
        }

        if (isLearner)
        {
            // Not part of the Raft configuration: the server records it (in the keyspace) and it follows the log.
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

        var member = MemberById(memberId)
            ?? throw new MembershipException(MembershipError.NotFound, $"no member has id {memberId:x}");
        if (!IsLeader)
        {
            throw NotLeaderHere();
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
                _ = Task.Delay(TimeSpan.FromSeconds(30), options.TimeProvider, stopping.Token).ContinueWith(
                    async _ =>
                    {
                        if (!removed.IsCancellationRequested && !stopping.IsCancellationRequested)
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
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token, timeoutTimer.Token);
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
            await NotifyRemovedAsync(member.EndPoint, memberId, notify.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Peers.PeerRequestException or ConsensusUnavailableException or OperationCanceledException)
        {
            // Best effort: without the notice it finds no leader and reports itself unhealthy.
        }
    }

    /// <summary>This member's view of the configuration, for a peer confirming its own removal.</summary>
    internal Api.ClusterInternal.ConfigurationResponse DescribeConfiguration()
    {
        var response = new Api.ClusterInternal.ConfigurationResponse
        {
            MemberId = topology.Local.Id,
            IsLeader = IsLeader && !isLearner,
            Term = Term,
            ClusterId = ClusterId,
        };
        response.MemberIds.AddRange(ConfiguredMembers().Select(static m => ClusterTopology.MemberId(m.EndPoint)));
        return response;
    }

    /// <summary>
    /// A notice on the peer listener said this member was removed: asks the members of this member's own
    /// configuration (over the request channel, never an address the notice names) and, when a leader of this cluster in
    /// a term at least this member's answers a configuration without it, cancels <see cref="Removed"/>.
    /// </summary>
    internal async ValueTask ConfirmRemovedAsync(CancellationToken cancellationToken)
    {
        // A notice proves nothing by itself: ask the members of this member's own configuration (never an address
        // the notice names), and believe a leader of this cluster, in a term at least this member's, whose
        // configuration no longer lists this member.
        var term = Term;
        foreach (var member in cluster.Members.Where(m => !link.IsLocal(m)).ToList())
        {
            try
            {
                using var askTimer = new CancellationTokenSource(TimeSpan.FromSeconds(1), options.TimeProvider);
                using var ask = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token, askTimer.Token);
                var view = await AskConfigurationAsync(member.EndPoint, ask.Token).ConfigureAwait(false);
                if (view.IsLeader && view.ClusterId == ClusterId && view.Term >= term && view.MemberIds.Count > 0 && !view.MemberIds.Contains(topology.Local.Id))
                {
                    MarkRemoved();
                    return;
                }
            }
            catch (Exception e) when (e is Peers.PeerRequestException or ConsensusUnavailableException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not reachable: ask the next one.
            }
        }
    }

    /// <summary>On the leader, keeps trying to bring joining members in (catch up, then commit the configuration).</summary>
    private async Task JoinLoopAsync()
    {
        var token = stopping.Token;
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
                if (token.IsCancellationRequested || !IsLeader)
                {
                    break;
                }

                await TryJoinAsync(member, token).ConfigureAwait(false);
            }

            if (!IsLeader && !joining.IsEmpty)
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
                await requestClients.For(leader.EndPoint)
                    .SendAsync(PeerRequestKind.Join, System.Text.Encoding.UTF8.GetBytes(member.PeerUrl), ReadOnlyMemory<byte>.Empty, timeout.Token)
                    .ConfigureAwait(false);
            }
            catch (MembershipException e) when (e.Error is MembershipError.PeerUrlExists)
            {
                // The next leader has it already (from the joining record the server keeps).
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

    private RaftClusterMember? MemberById(ulong id) =>
        cluster.Members.FirstOrDefault(m => ClusterTopology.MemberId(m.EndPoint) == id);

    /// <summary>Waits until DotNext's member list does (or does not) hold member <paramref name="id"/>.</summary>
    private async Task WaitForMembershipAsync(ulong id, bool listed, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = membersChanged.Task;
            if (MemberById(id) is not null == listed)
            {
                return;
            }

            // The signal comes from DotNext's member events; re-check now and then in case one is not raised.
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(100), options.TimeProvider, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private void SignalMembersChanged() =>
        Interlocked.Exchange(ref membersChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private void OnMemberAdded(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> e)
    {
        if (!e.Member.IsRemote)
        {
            Volatile.Write(ref inConfiguration, true);
        }

        SignalMembersChanged();
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

    private void OnMemberRemoved(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> e)
    {
        SignalMembersChanged();
        if (e.Member.IsRemote || stopping.IsCancellationRequested || !Volatile.Read(ref inConfiguration))
        {
            return;
        }

        // This member left the configuration: like etcd, it stops serving (it would only hold stale data).
        MarkRemoved();
    }

    private void MarkRemoved()
    {
        if (Interlocked.Exchange(ref removedMarked, 1) == 0)
        {
            Log.LocalMemberRemoved(logger, topology.Local.Name);
            removed.Cancel();
        }
    }

    private sealed record JoiningMember(ulong Id, string PeerUrl, EndPoint EndPoint)
    {
        /// <summary>A learner being promoted that may still append from its feed: not to be replicated to yet.</summary>
        public bool Held { get; init; }
    }
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
}

/// <summary>A membership change that was refused; nothing changed.</summary>
public sealed class MembershipException(MembershipError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public MembershipError Error { get; } = error;
}

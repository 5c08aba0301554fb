using System.Buffers.Binary;
using System.Net;
using Conclave.Api.ClusterInternal;
using Conclave.Api.Errors;
using Conclave.Cluster.Peers;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>Learners: members that receive the committed log and serve serializable reads and watches, but do not vote.</summary>
/// <remarks>
/// <para>
/// DotNext 6.12 has no non-voting members, so a learner is not in the Raft configuration at all. It follows the
/// leader's committed log through the request channel's <c>Follow</c> requests (ADR 0013) and appends every entry to its own WAL at the same index
/// and term (a snapshot first when it is behind the leader's compacted log), then commits up to the leader's commit
/// index; its state machine applies as on any member. Its log is therefore a prefix of the leader's, durable across
/// restarts, and it never counts toward a quorum or stands for election (it runs in DotNext's standby mode).
/// </para>
/// <para>
/// Promotion hands the learner to Raft: the leader stops sending, waits until the learner has committed all it was
/// sent, tells it that it is promoted, and then adds it with DotNext's catch-up-then-commit change (the join path
/// of <see cref="AddMemberAsync"/>); the matching log makes the catch-up short. A member learns it is a learner by
/// asking the members it was started with how it is listed (<c>Role</c>); which members are learners is replicated
/// state the application keeps (<see cref="ILearnerDirectory"/>).
/// </para>
/// <para>
/// The feed is pulled: each request carries the highest index the learner has committed, which is also its
/// acknowledgement; the leader answers the entries after it, a snapshot descriptor, or (caught up) a heartbeat after at
/// most <see cref="LearnerFeed.Heartbeat"/>. Nothing is pushed, so a learner that fetches and installs a large snapshot simply
/// asks again when it is done, and a dropped connection costs one request.
/// </para>
/// </remarks>
public sealed partial class RaftNode
{
    /// <summary>How long a learner waits for one feed answer (a heartbeat comes after at most half a second).</summary>
    private static readonly TimeSpan FollowAnswerWait = TimeSpan.FromSeconds(10);

    private Task learnerLoop = Task.CompletedTask;
    private volatile bool isLearner;
    private ulong followedLeader;
    private EndPoint? followedPeer;
    private long followedTerm;

    /// <inheritdoc />
    public bool IsLearner => isLearner;

    /// <summary>How long a leader waits for a promoted learner to say it left learner mode.</summary>
    private static readonly TimeSpan PromotedAckWait = TimeSpan.FromSeconds(5);

    private ConclaveErrorException NotForLearner(string what) =>
        new(ErrorCode.NotSupportedForLearner, $"this member is a learner: it serves serializable reads and watches, not {what}; use a voting member");

    // ---- leader side ---------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public void ServeLearners(ILearnerDirectory directory) => learnerFeed.Use(directory);

    /// <inheritdoc />
    public async ValueTask PromoteLearnerAsync(ulong memberId, string peerUrl, CancellationToken cancellationToken)
    {
        if (!IsLeader)
        {
            throw NotLeaderHere();
        }

        var endpoint = ClusterTopology.ParsePeerUrl("learner", peerUrl);
        var commit = wal.LastCommittedEntryIndex;
        if (!link.TryGetLeadershipTerm(out var term) || learnerFeed.Following(memberId, term) is not { } session)
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
            await session.LeftLearnerModeTask.WaitAsync(PromotedAckWait, options.TimeProvider, stopping.Token).ConfigureAwait(false);
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
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token, timeoutTimer.Token);
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
    public void DropFollower(ulong memberId)
    {
        learnerFeed.Drop(memberId);
    }

    // ---- learner side --------------------------------------------------------------------------------------------

    /// <summary>
    /// For a member started to join a running cluster: finds out from the member list whether it was added as a
    /// learner and, while it is one, follows the leader's log. Ends when it is a voting member (or joining as one).
    /// </summary>
    private async Task LearnerLoopAsync()
    {
        var token = stopping.Token;
        while (!token.IsCancellationRequested && !Volatile.Read(ref inConfiguration))
        {
            try
            {
                var role = await FindRoleAsync(token).ConfigureAwait(false);
                if (role is { Listed: true, Learner: false } && !isLearner)
                {
                    File.Delete(LearnerMarker(dataDirectory)); // a learner once, added again as a voter
                    return; // added as a voting member: Raft brings it in
                }

                if (role is { Listed: true, Learner: false })
                {
                    // Promoted, but its "promoted" answer never arrived (lost with a connection or a leader restart; seen
                    // in CI). How it is listed is the authority: no feed runs here now, so hand the log to Raft as the
                    // promoted path does.
                    if (await BecomeVoterAsync(token).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                if (role is { Listed: false } && (isLearner || File.Exists(LearnerMarker(dataDirectory))))
                {
                    MarkRemoved(); // it was a learner and is not listed any more (also: removed while it was down)
                    return;
                }

                if (role is { Learner: true, Urls: { } urls })
                {
                    if (!isLearner)
                    {
                        // Remembered across restarts: a learner is never in the configuration.
                        await PrivateFiles.WriteAllTextAsync(LearnerMarker(dataDirectory), "learner\n", token).ConfigureAwait(false);
                        isLearner = true;
                        await cluster.EnableStandbyModeAsync(token).ConfigureAwait(false);
                        Log.LearnerFollowing(logger, wal.LastCommittedEntryIndex + 1);
                    }

                    foreach (var peer in urls)
                    {
                        if (await FollowAsync(peer, token).ConfigureAwait(false))
                        {
                            if (await BecomeVoterAsync(token).ConfigureAwait(false))
                            {
                                return;
                            }

                            // Not added after all (the leader failed meanwhile): follow again until promoted anew. A leader
                            // still adding it refuses to feed it, so the log never gets two writers.
                            break;
                        }
                    }
                }
            }
            catch (Exception e) when (!token.IsCancellationRequested && e is not ObjectDisposedException)
            {
                Log.LearnerFeedEnded(logger, "?", e.Message);
            }

            try
            {
                // Not listed yet (started before 'member add'), or between feeds.
                await Task.Delay(TimeSpan.FromMilliseconds(isLearner ? 300 : 1000), options.TimeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static readonly TimeSpan PromotionGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Stops being a learner (no feed is running): Raft takes over the log. True once this member is a voter; false
    /// when it was not added after all (the leader failed meanwhile), and it follows again until promoted anew.
    /// </summary>
    private async Task<bool> BecomeVoterAsync(CancellationToken token)
    {
        Log.LearnerPromoted(logger, wal.LastCommittedEntryIndex);
        isLearner = false;
        await cluster.RevertToNormalModeAsync(token).ConfigureAwait(false);
        if (!await WaitUntilVoterAsync(PromotionGrace, token).ConfigureAwait(false))
        {
            return false;
        }

        File.Delete(LearnerMarker(dataDirectory));
        return true;
    }

    private static string LearnerMarker(string dataDirectory) => Path.Combine(dataDirectory, "learner");

    /// <summary>After a promotion: waits until the member list (asked of the others) lists this member as a voter.</summary>
    private async Task<bool> WaitUntilVoterAsync(TimeSpan limit, CancellationToken token)
    {
        var started = options.TimeProvider.GetTimestamp();
        while (options.TimeProvider.GetElapsedTime(started) < limit)
        {
            if (await FindRoleAsync(token).ConfigureAwait(false) is { Listed: true, Learner: false })
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), options.TimeProvider, token).ConfigureAwait(false);
        }

        return false;
    }

    private sealed record Role(bool Listed, bool Learner, IReadOnlyList<EndPoint>? Urls);

    /// <summary>Asks the members this one was started with (any that answers) how it is listed (request kind Role).</summary>
    private async Task<Role?> FindRoleAsync(CancellationToken token)
    {
        foreach (var member in cluster.Members)
        {
            if (link.IsLocal(member))
            {
                continue;
            }

            try
            {
                using var askTimer = new CancellationTokenSource(TimeSpan.FromSeconds(2), options.TimeProvider);
                using var ask = CancellationTokenSource.CreateLinkedTokenSource(token, askTimer.Token);
                var answer = await AskRoleAsync(member.EndPoint, ask.Token).ConfigureAwait(false);
                if (answer.ClusterId != 0 && !adoptClusterId && answer.ClusterId != ClusterId)
                {
                    continue; // another cluster
                }

                if (!answer.Listed || !answer.Learner)
                {
                    return new Role(answer.Listed, false, null);
                }

                AdoptClusterId(answer.ClusterId);

                // Any voting member may answer; only the leader feeds (the others say so and the next is tried).
                var peers = new List<EndPoint>();
                foreach (var url in answer.VoterPeerUrls)
                {
                    try
                    {
                        peers.Add(ClusterTopology.ParsePeerUrl("voter", url));
                    }
                    catch (ArgumentException)
                    {
                        // Not a peer URL this member can dial: skip it.
                    }
                }

                return new Role(true, true, peers);
            }
            catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException or OperationCanceledException && !token.IsCancellationRequested)
            {
                // Not reachable now, or still starting: ask the next one.
            }
        }

        return null;
    }

    private async Task<RoleResponse> AskRoleAsync(EndPoint member, CancellationToken cancellationToken)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, topology.Local.Id);
        var answer = await requestClients.For(member).SendAsync(PeerRequestKind.Role, head, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        try
        {
            return RoleResponse.Parser.ParseFrom(answer);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PeerRequestException($"The member at {member} answered a role that does not parse.", sent: true, e);
        }
    }

    /// <summary>How member <paramref name="memberId"/> is listed here (it asks while it starts to join).</summary>
    private RoleResponse DescribeRole(ulong memberId)
    {
        // This member's own view, without asking anyone (MembersAsync would fetch client URLs it does not need here).
        var directory = learnerFeed.Directory;
        var answer = new RoleResponse { ClusterId = ClusterId };
        if (joining.ContainsKey(memberId) || ConfiguredMembers().Any(m => ClusterTopology.MemberId(m.EndPoint) == memberId))
        {
            // Raft's view shadows the record: a learner being promoted is listed as the voter it becomes.
            answer.Listed = true;
        }
        else if (directory.IsLearner(memberId))
        {
            answer.Listed = true;
            answer.Learner = true;
            answer.VoterPeerUrls.AddRange(ConfiguredMembers().Select(static voter => ClusterTopology.PeerUrlOf(voter.EndPoint)));
        }

        return answer;
    }

    /// <summary>Follows the log fed by the member at <paramref name="peer"/> until the feed ends; true when promoted.</summary>
    private async Task<bool> FollowAsync(EndPoint peer, CancellationToken token)
    {
        var client = requestClients.For(peer);
        Volatile.Write(ref followedPeer, peer);
        try
        {
            while (true)
            {
                var request = new FollowRequest { MemberId = topology.Local.Id, CommittedIndex = wal.LastCommittedEntryIndex, Name = topology.Local.Name };
                request.ClientUrls.AddRange(topology.Local.ClientUrls);
                var response = await AskFollowAsync(client, request, token).ConfigureAwait(false);
                Volatile.Write(ref followedLeader, response.LeaderId);
                Volatile.Write(ref followedTerm, (long)response.Term);
                if (response.Promoted)
                {
                    if (options.Faults?.PromotedAnswerDelay is { } delay && delay > TimeSpan.Zero)
                    {
                        await Task.Delay(delay, options.TimeProvider, token).ConfigureAwait(false);
                    }

                    // Out of learner mode before saying so: the leader waits for that before MemberPromote returns
                    // (BecomeVoterAsync then hands the log to Raft). Best effort: the leader stops waiting after a while.
                    isLearner = false;
                    try
                    {
                        var done = new FollowRequest { MemberId = topology.Local.Id, CommittedIndex = wal.LastCommittedEntryIndex, LeftLearnerMode = true };
                        using var ackTimer = new CancellationTokenSource(TimeSpan.FromSeconds(2), options.TimeProvider);
                        using var ack = CancellationTokenSource.CreateLinkedTokenSource(token, ackTimer.Token);
                        await AskFollowAsync(client, done, ack.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException or OperationCanceledException && !token.IsCancellationRequested)
                    {
                    }

                    return true;
                }

                if (response.SnapshotIndex > 0 && response.SnapshotIndex > wal.LastCommittedEntryIndex)
                {
                    // Installed before any entry after it; the next request waits until then, and the leader keeps the
                    // image and its log while this member fetches (ADR 0010).
                    var descriptor = SnapshotDescriptor.Parse(response.SnapshotDescriptor.Span);
                    while (true)
                    {
                        try
                        {
                            await wal.AppendAsync(descriptor, response.SnapshotIndex, token).ConfigureAwait(false);
                            break;
                        }
                        catch (SnapshotNotReadyException)
                        {
                            // Still fetching; the fetch runs in the background, each try waits a moment for it.
                        }
                    }
                }

                foreach (var entry in response.Entries)
                {
                    if (entry.Index > wal.LastCommittedEntryIndex)
                    {
                        await wal.AppendAsync(new BinaryLogEntry { Content = entry.Payload.Memory, Term = entry.Term }, entry.Index, token).ConfigureAwait(false);
                    }
                }

                var commit = Math.Min(response.CommitIndex, wal.LastEntryIndex);
                if (commit > wal.LastCommittedEntryIndex)
                {
                    await wal.CommitAsync(commit, token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException or MembershipException or InvalidDataException && !token.IsCancellationRequested)
        {
            Log.LearnerFeedEnded(logger, ClusterTopology.PeerUrlOf(peer), e.Message);
        }

        // No leader heard from now (health says so until the feed is back).
        Volatile.Write(ref followedLeader, 0UL);
        return false;
    }

    private async Task<FollowResponse> AskFollowAsync(PeerRequestClient client, FollowRequest request, CancellationToken token)
    {
        using var waitTimer = new CancellationTokenSource(FollowAnswerWait, options.TimeProvider);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token, waitTimer.Token);
        ReadOnlyMemory<byte> answer;
        try
        {
            answer = await client.SendAsync(PeerRequestKind.Follow, request.ToByteArray(), ReadOnlyMemory<byte>.Empty, wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!token.IsCancellationRequested)
        {
            throw new PeerRequestException($"The leader at {client.Peer} sent no feed answer in {FollowAnswerWait.TotalSeconds:0} s.", sent: true, e);
        }

        try
        {
            return FollowResponse.Parser.ParseFrom(answer.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The leader at {client.Peer} answered a feed message that does not parse.", e);
        }
    }
}

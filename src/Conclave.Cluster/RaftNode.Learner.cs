using System.Buffers.Binary;
using System.Collections.Concurrent;
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
/// most <see cref="FollowHeartbeat"/>. Nothing is pushed, so a learner that fetches and installs a large snapshot simply
/// asks again when it is done, and a dropped connection costs one request.
/// </para>
/// </remarks>
public sealed partial class RaftNode
{
    /// <summary>Most entries in one feed message (and at most about <see cref="FollowBatchBytes"/>).</summary>
    private const int FollowBatchEntries = 512;
    private const int FollowBatchBytes = 2 * 1024 * 1024;
    private static readonly TimeSpan FollowHeartbeat = TimeSpan.FromMilliseconds(500);

    /// <summary>A learner that has not asked for this long (and has no request waiting) is not following now.</summary>
    private static readonly TimeSpan FollowerSilence = TimeSpan.FromSeconds(10);

    /// <summary>How long a learner waits for one feed answer (a heartbeat comes after at most half a second).</summary>
    private static readonly TimeSpan FollowAnswerWait = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<ulong, FollowerSession> followers = new();
    private ILearnerDirectory? learnerDirectory;
    private Task learnerLoop = Task.CompletedTask;
    private volatile bool isLearner;
    private ulong followedLeader;
    private EndPoint? followedPeer;
    private long followedTerm;

    /// <inheritdoc />
    public bool IsLearner => isLearner;

    /// <summary>How long a leader waits for a promoted learner to leave learner mode and end its feed.</summary>
    private static readonly TimeSpan PromotedAckWait = TimeSpan.FromSeconds(5);

    private ConclaveErrorException NotForLearner(string what) =>
        new(ErrorCode.NotSupportedForLearner, $"this member is a learner: it serves serializable reads and watches, not {what}; use a voting member");

    // ---- leader side ---------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public void ServeLearners(ILearnerDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (Interlocked.CompareExchange(ref learnerDirectory, directory, null) is not null)
        {
            throw new InvalidOperationException("this member already has a learner directory");
        }
    }

    private ILearnerDirectory LearnerDirectory => Volatile.Read(ref learnerDirectory)
        ?? throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "This member is still starting: it does not serve learners yet.", notApplied: true);

    /// <summary>Serves one request of a learner's feed (see <see cref="FollowRequest"/>): the next entries, a snapshot, a heartbeat or "promoted".</summary>
    private async Task<FollowResponse> ServeFollowAsync(FollowRequest request, CancellationToken cancellationToken)
    {
        if (request.LeftLearnerMode)
        {
            // The answer to "promoted": whoever leads now, nothing is sent.
            if (followers.TryGetValue(request.MemberId, out var promoted))
            {
                promoted.LeftLearnerMode();
            }

            return new FollowResponse { Promoted = true, LeaderId = topology.Local.Id, Term = Term };
        }

        if (!link.TryGetLeadershipTerm(out var term))
        {
            throw NotLeaderHere();
        }

        if (joining.TryGetValue(request.MemberId, out var adding) && !adding.Held)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, $"Member {request.MemberId:x} is being added as a voting member; Raft replicates to it now.", notApplied: true);
        }

        await LearnerDirectory.AdmitAsync(new LearnerInfo(request.MemberId, request.Name, [.. request.ClientUrls]), cancellationToken).ConfigureAwait(false);
        var session = followers.AddOrUpdate(
            request.MemberId,
            static (id, a) => new FollowerSession(id, a.term, a.request.CommittedIndex),
            static (id, existing, a) => existing.Term == a.term && !existing.Ended ? existing : new FollowerSession(id, a.term, a.request.CommittedIndex),
            (term, request));
        if (session.TryAnnounce())
        {
            Log.FollowerAttached(logger, session.Id, request.CommittedIndex + 1);
        }

        using var ended = session.BeginRequest(request.CommittedIndex, options.TimeProvider.GetTimestamp(), cancellationToken, stopping.Token, cluster.LeadershipToken);
        var leaderId = topology.Local.Id;
        try
        {
            var next = request.CommittedIndex + 1;
            while (true)
            {
                ended.Token.ThrowIfCancellationRequested();
                if (session.Promoting)
                {
                    // Nothing more is sent. The learner has committed all it holds before it asked (it asks again only
                    // after applying an answer), so Raft may take over its log from here.
                    if (!session.TryHandOver(request.CommittedIndex) && !session.HandingOver)
                    {
                        continue; // the promotion was called off meanwhile
                    }

                    if (options.Faults?.LosePromotedAnswers == true)
                    {
                        throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "The feed ended (fault injected: the promoted answer is lost).", notApplied: true);
                    }

                    return new FollowResponse { Promoted = true, Term = (ulong)term, LeaderId = leaderId, CommitIndex = request.CommittedIndex };
                }

                var commit = wal.LastCommittedEntryIndex;
                if (next <= commit)
                {
                    var response = ReadCommitted(next, commit);
                    if (response.Entries.Count == 0)
                    {
                        // The log at 'next' is compacted into the snapshot: the learner fetches that first.
                        if (stateMachine.Snapshot is SnapshotFile snapshot && next <= snapshot.Index)
                        {
                            return DescribeSnapshot(session, snapshot, (ulong)term, leaderId);
                        }

                        await Task.Delay(TimeSpan.FromMilliseconds(10), options.TimeProvider, ended.Token).ConfigureAwait(false); // a snapshot being published
                        continue;
                    }

                    response.CommitIndex = response.Entries[^1].Index;
                    response.Term = (ulong)term;
                    response.LeaderId = leaderId;
                    return response;
                }

                // Caught up: wait for the next commit or a promotion, and answer a heartbeat if neither comes.
                var changed = session.Changed;
                using (var beatTimer = new CancellationTokenSource(FollowHeartbeat, options.TimeProvider))
                using (var beat = CancellationTokenSource.CreateLinkedTokenSource(ended.Token, beatTimer.Token))
                {
                    try
                    {
                        await Task.WhenAny(wal.WaitForApplyAsync(next, beat.Token).AsTask(), changed).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ended.IsCancellationRequested)
                    {
                    }
                }

                if (wal.LastCommittedEntryIndex < next && !session.Promoting)
                {
                    return new FollowResponse { CommitIndex = next - 1, Term = (ulong)term, LeaderId = leaderId };
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            // Leadership ended, the learner was dropped, or a newer request of the same learner replaced this one.
            throw NotLeaderHere();
        }
        finally
        {
            session.EndRequest(ended, options.TimeProvider.GetTimestamp());
        }
    }

    private FollowResponse ReadCommitted(long from, long commit)
    {
        // One answer fits a request-channel frame: entries up to the budget, and always at least one (no entry is
        // larger than the largest forwarded batch, which a frame holds by construction).
        var budget = Math.Min(FollowBatchBytes, requestClients.Options.MaxPayloadBytes - PeerRequestOptions.PayloadHeadroom);
        var response = new FollowResponse();
        var last = Math.Min(commit, from + FollowBatchEntries - 1);
        var bytes = 0L;
        foreach (var read in wal.Read(from, last).Entries)
        {
            if (read is not StoredEntry entry)
            {
                break; // the snapshot: the log before it is compacted
            }

            if (response.Entries.Count > 0 && bytes + entry.Payload.Length + 32 > budget)
            {
                break;
            }

            var item = new FollowEntry { Index = entry.Index, Term = entry.Term };
            if (entry.Payload.Length > 0)
            {
                // Entries are immutable once in the log: the payload is shared, not copied.
                item.Payload = UnsafeByteOperations.UnsafeWrap(entry.Payload);
            }

            bytes += entry.Payload.Length + 32;
            response.Entries.Add(item);
        }

        return response;
    }

    /// <summary>Tells a learner which snapshot its log continues from; it fetches the image itself (ADR 0010).</summary>
    private FollowResponse DescribeSnapshot(FollowerSession session, SnapshotFile snapshot, ulong term, ulong leaderId)
    {
        Log.FollowerSnapshot(logger, session.Id, snapshot.Index, snapshot.FileLength);
        var descriptor = new byte[SnapshotDescriptor.Size];
        stateMachine.DescribeRetained(snapshot.Index).Write(descriptor);
        return new FollowResponse
        {
            SnapshotIndex = snapshot.Index,
            SnapshotDescriptor = ByteString.CopyFrom(descriptor),
            CommitIndex = snapshot.Index,
            Term = term,
            LeaderId = leaderId,
        };
    }

    /// <inheritdoc />
    public async ValueTask PromoteLearnerAsync(ulong memberId, string peerUrl, CancellationToken cancellationToken)
    {
        if (!IsLeader)
        {
            throw NotLeaderHere();
        }

        var endpoint = ClusterTopology.ParsePeerUrl("learner", peerUrl);
        var commit = wal.LastCommittedEntryIndex;
        if (!followers.TryGetValue(memberId, out var session) || !link.TryGetLeadershipTerm(out var term) || session.Term != term
            || !session.IsFollowing(options.TimeProvider.GetTimestamp(), options.TimeProvider.TimestampFrequency * (long)FollowerSilence.TotalSeconds))
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
                // The feed broke while telling it: whether it heard is unknown. It goes back to following if it is
                // not added soon (see LearnerLoopAsync); the operator may promote again.
                joining.TryRemove(memberId, out _);
                throw new MembershipException(MembershipError.LearnerNotReady, $"learner {memberId:x} went away while being promoted; it keeps following");
            }
        }

        // The learner leaves learner mode and then says so (see FollowAsync): waiting for that means that when
        // MemberPromote returns, the member no longer refuses writes as a learner. Bounded: an answer lost on the way is
        // covered by the member list (the learner asks how it is listed).
        try
        {
            await session.LeftLearnerModeTask.WaitAsync(PromotedAckWait, options.TimeProvider, cancellationToken).ConfigureAwait(false);
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
        if (followers.TryRemove(memberId, out var session))
        {
            session.End();
        }
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
                    // Promoted, but the feed ended before its "promoted" answer arrived (the leader hands over and ends
                    // the feed; seen in CI under a leader restart). The member list is the authority: no feed runs
                    // here now, so hand the log to Raft as the promoted path does.
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
    private async Task<RoleResponse> DescribeRoleAsync(ulong memberId, CancellationToken cancellationToken)
    {
        var directory = LearnerDirectory;
        var answer = new RoleResponse { ClusterId = ClusterId };
        if ((await MembersAsync(cancellationToken).ConfigureAwait(false)).Any(m => m.Id == memberId))
        {
            // Raft's view shadows the record: a learner being promoted is listed as the voter it becomes.
            answer.Listed = true;
        }
        else if (directory.IsLearner(memberId))
        {
            answer.Listed = true;
            answer.Learner = true;
            foreach (var voter in cluster.Members)
            {
                answer.VoterPeerUrls.Add(ClusterTopology.PeerUrlOf(voter.EndPoint));
            }
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

    /// <summary>One learner's feed on the leader, for one leadership term: what it has committed and whether it is being promoted.</summary>
    private sealed class FollowerSession(ulong id, long term, long committed)
    {
        private const int Following = 0, PromotionStarted = 1, HandOverState = 2;
        private readonly Lock gate = new();
        private readonly TaskCompletionSource leftLearnerMode = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource ended = new();
        private long committedIndex = committed;
        private int state;
        private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenSource? current;
        private long lastSeen;
        private bool announced;

        public ulong Id { get; } = id;

        /// <summary>The leadership term this session belongs to; a new term starts a new session.</summary>
        public long Term { get; } = term;

        public long CommittedIndex => Volatile.Read(ref committedIndex);

        public bool Ended => ended.IsCancellationRequested;

        public bool Promoting => Volatile.Read(ref state) != Following;

        public bool HandingOver => Volatile.Read(ref state) == HandOverState;

        /// <summary>Completes with the index the learner held when it was handed over to Raft; cancelled when the feed ended first.</summary>
        public TaskCompletionSource<long> HandedOver { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the promoted learner says it left learner mode.</summary>
        public Task LeftLearnerModeTask => leftLearnerMode.Task;

        public Task Changed => changed.Task;

        /// <summary>True the first time it is asked (to log the learner's arrival once per session).</summary>
        public bool TryAnnounce()
        {
            lock (gate)
            {
                var first = !announced;
                announced = true;
                return first;
            }
        }

        /// <summary>
        /// A request arrived: records what the learner has committed and returns the token its answer runs under
        /// (cancelled by the session's end, the caller's, and the next request of the same learner, which replaces it).
        /// </summary>
        public CancellationTokenSource BeginRequest(long committed, long now, params ReadOnlySpan<CancellationToken> tokens)
        {
            var source = CancellationTokenSource.CreateLinkedTokenSource([.. tokens, ended.Token]);
            CancellationTokenSource? previous;
            lock (gate)
            {
                previous = current;
                current = source;
                lastSeen = now;
            }

            CancelQuietly(previous);
            Volatile.Write(ref committedIndex, committed);
            Signal();
            return source;
        }

        public void EndRequest(CancellationTokenSource request, long now)
        {
            lock (gate)
            {
                lastSeen = now;
                if (current == request)
                {
                    current = null;
                }
            }
        }

        /// <summary>Whether the learner asks now, or asked within <paramref name="silence"/> (in timestamp ticks).</summary>
        public bool IsFollowing(long now, long silence)
        {
            if (Ended)
            {
                return false;
            }

            lock (gate)
            {
                return current is not null || now - lastSeen <= silence;
            }
        }

        public bool TryStartPromotion()
        {
            if (Ended || Interlocked.CompareExchange(ref state, PromotionStarted, Following) != Following)
            {
                return false;
            }

            Signal();
            return true;
        }

        /// <summary>Hands the learner over at <paramref name="index"/> (what it holds); false when not promoting or already handed over.</summary>
        public bool TryHandOver(long index)
        {
            if (Interlocked.CompareExchange(ref state, HandOverState, PromotionStarted) != PromotionStarted)
            {
                return false;
            }

            HandedOver.TrySetResult(index);
            return true;
        }

        public bool TryCancelPromotion()
        {
            var cancelled = Interlocked.CompareExchange(ref state, Following, PromotionStarted) == PromotionStarted;
            Signal();
            return cancelled;
        }

        public void LeftLearnerMode() => leftLearnerMode.TrySetResult();

        public void End()
        {
            CancelQuietly(ended);
            if (Volatile.Read(ref state) != HandOverState)
            {
                HandedOver.TrySetCanceled();
            }

            Signal();
        }

        private static void CancelQuietly(CancellationTokenSource? source)
        {
            try
            {
                source?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // That request has answered already.
            }
        }

        private void Signal() =>
            Interlocked.Exchange(ref changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}

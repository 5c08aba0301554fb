using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using Conclave.Api.ClusterInternal;
using Conclave.Api.Errors;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>Learners: members that receive the committed log and serve serializable reads and watches, but do not vote.</summary>
/// <remarks>
/// <para>
/// DotNext 6.12 has no non-voting members, so a learner is not in the Raft configuration at all. It follows the
/// leader's committed log through <c>Forwarding/Follow</c> and appends every entry to its own WAL at the same index
/// and term (a snapshot first when it is behind the leader's compacted log), then commits up to the leader's commit
/// index; its state machine applies as on any member. Its log is therefore a prefix of the leader's, durable across
/// restarts, and it never counts toward a quorum or stands for election (it runs in DotNext's standby mode).
/// </para>
/// <para>
/// Promotion hands the learner to Raft: the leader stops sending, waits until the learner has committed all it was
/// sent, tells it that it is promoted, and then adds it with DotNext's catch-up-then-commit change (the join path
/// of <see cref="AddMemberAsync"/>); the matching log makes the catch-up short. A member learns it is a learner from
/// the member list (learners are recorded in the keyspace by the server), asked of the members it was started with.
/// </para>
/// </remarks>
public sealed partial class RaftNode
{
    /// <summary>Most entries in one feed message (and at most about <see cref="FollowBatchBytes"/>).</summary>
    private const int FollowBatchEntries = 512;
    private const int FollowBatchBytes = 2 * 1024 * 1024;
    private static readonly TimeSpan FollowHeartbeat = TimeSpan.FromMilliseconds(500);

    private readonly ConcurrentDictionary<ulong, FollowerSession> followers = new();
    private Task learnerLoop = Task.CompletedTask;
    private volatile bool isLearner;
    private ulong followedLeader;
    private EndPoint? followedPeer;
    private long followedTerm;

    /// <inheritdoc />
    public bool IsLearner => isLearner;

    /// <summary>
    /// Fault injection for tests: as the leader, end a promoted learner's feed without its "promoted" answer, as an
    /// answer lost with a dying connection or leader would be. The learner must find out from the member list.
    /// </summary>
    internal bool LosePromotedAnswers { get; set; }

    /// <summary>
    /// Fault injection for tests: as a learner, take this long to act on a "promoted" answer, as a busy member would.
    /// MemberPromote must still not return before this member has left learner mode.
    /// </summary>
    internal TimeSpan PromotedAnswerDelay { get; set; }

    /// <summary>
    /// Fault injection for tests: as the leader, resume this late after a promoted learner ended its feed, as a busy
    /// leader would (the end of the feed must not turn the promotion into an error meanwhile).
    /// </summary>
    internal TimeSpan HandOverDelay { get; set; }

    /// <summary>How long a leader waits for a promoted learner to leave learner mode and end its feed.</summary>
    private static readonly TimeSpan PromotedAckWait = TimeSpan.FromSeconds(5);

    private ConclaveErrorException NotForLearner(string what) =>
        new(ErrorCode.NotSupportedForLearner, $"this member is a learner: it serves serializable reads and watches, not {what}; use a voting member");

    // ---- leader side ---------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public async Task ServeFollowerAsync(FollowRequest first, IAsyncStreamReader<FollowRequest> requests, IServerStreamWriter<FollowResponse> responses, CancellationToken cancellationToken)
    {
        if (!link.TryGetLeadershipTerm(out var term))
        {
            throw NotLeaderHere();
        }

        if (joining.TryGetValue(first.MemberId, out var adding) && !adding.Held)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, $"Member {first.MemberId:x} is being added as a voting member; Raft replicates to it now.", notApplied: true);
        }

        using var ended = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token, cluster.LeadershipToken);
        var session = new FollowerSession(first.MemberId, first.CommittedIndex, ended);
        if (followers.TryGetValue(session.Id, out var previous))
        {
            previous.End();
        }

        followers[session.Id] = session;
        Log.FollowerAttached(logger, session.Id, first.CommittedIndex + 1);
        var acks = ReadAcksAsync(session, requests, ended.Token);
        var leaderId = topology.Local.Id;
        try
        {
            var next = first.CommittedIndex + 1;
            while (true)
            {
                ended.Token.ThrowIfCancellationRequested();
                if (session.Promoting)
                {
                    // Nothing more is sent; once the learner has committed all it was sent it appends nothing more,
                    // and Raft may take over its log.
                    var changed = session.Changed;
                    if (session.CommittedIndex < next - 1)
                    {
                        await changed.WaitAsync(ended.Token).ConfigureAwait(false);
                        continue;
                    }

                    if (session.TryHandOver())
                    {
                        try
                        {
                            if (!LosePromotedAnswers)
                            {
                                await responses.WriteAsync(new FollowResponse { Promoted = true, Term = (ulong)term, LeaderId = leaderId, CommitIndex = next - 1 }, ended.Token)
                                    .ConfigureAwait(false);
                                // The learner leaves learner mode and then ends its feed (see FollowAsync): waiting for
                                // that end means that when MemberPromote returns, the member no longer refuses writes as
                                // a learner. Bounded: an answer lost on the way is covered by the member list. The end
                                // of the feed is the expected answer here, so it hands over (End leaves HandedOver alone
                                // once handing over).
                                await Task.WhenAny(acks, Task.Delay(PromotedAckWait, options.TimeProvider, ended.Token)).ConfigureAwait(false);
                                if (HandOverDelay > TimeSpan.Zero)
                                {
                                    await Task.Delay(HandOverDelay, options.TimeProvider, CancellationToken.None).ConfigureAwait(false);
                                }
                            }
                        }
                        catch
                        {
                            // The feed broke while telling it: whether it heard is unknown (PromoteLearnerAsync says so).
                            session.HandedOver.TrySetCanceled();
                            throw;
                        }

                        session.HandedOver.TrySetResult(next - 1);
                        return;
                    }

                    continue; // the promotion was called off
                }

                var commit = wal.LastCommittedEntryIndex;
                if (next <= commit)
                {
                    var response = ReadCommitted(next, commit);
                    if (response.Entries.Count == 0)
                    {
                        // The log at 'next' is compacted into the snapshot: send that first.
                        if (stateMachine.Snapshot is SnapshotFile snapshot && next <= snapshot.Index)
                        {
                            await SendSnapshotAsync(session, snapshot, responses, (ulong)term, leaderId, ended.Token).ConfigureAwait(false);
                            next = snapshot.Index + 1;
                        }
                        else
                        {
                            await Task.Delay(TimeSpan.FromMilliseconds(10), options.TimeProvider, ended.Token).ConfigureAwait(false); // a snapshot being published
                        }

                        continue;
                    }

                    next = response.Entries[^1].Index + 1;
                    response.CommitIndex = next - 1;
                    response.Term = (ulong)term;
                    response.LeaderId = leaderId;
                    await responses.WriteAsync(response, ended.Token).ConfigureAwait(false);
                    continue;
                }

                // Caught up: wait for the next commit or a promotion, with a heartbeat now and then.
                using (var beatTimer = new CancellationTokenSource(FollowHeartbeat, options.TimeProvider))
                using (var beat = CancellationTokenSource.CreateLinkedTokenSource(ended.Token, beatTimer.Token))
                {
                    try
                    {
                        await Task.WhenAny(wal.WaitForApplyAsync(next, beat.Token).AsTask(), session.Changed).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ended.IsCancellationRequested)
                    {
                    }
                }

                if (wal.LastCommittedEntryIndex < next && !session.Promoting)
                {
                    await responses.WriteAsync(new FollowResponse { CommitIndex = next - 1, Term = (ulong)term, LeaderId = leaderId }, ended.Token)
                        .ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            // Leadership ended or a newer session replaced this one: the learner asks again.
            throw NotLeaderHere();
        }
        finally
        {
            followers.TryRemove(new KeyValuePair<ulong, FollowerSession>(session.Id, session));
            session.End();
            await acks.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task ReadAcksAsync(FollowerSession session, IAsyncStreamReader<FollowRequest> requests, CancellationToken token)
    {
        try
        {
            while (await requests.MoveNext(token).ConfigureAwait(false))
            {
                session.Committed(requests.Current.CommittedIndex);
            }
        }
        finally
        {
            // The learner went away: stop feeding it.
            session.End();
        }
    }

    private FollowResponse ReadCommitted(long from, long commit)
    {
        var response = new FollowResponse();
        var last = Math.Min(commit, from + FollowBatchEntries - 1);
        var bytes = 0L;
        foreach (var read in wal.Read(from, last).Entries)
        {
            if (read is not StoredEntry entry)
            {
                break; // the snapshot: the log before it is compacted
            }

            var item = new FollowEntry { Index = entry.Index, Term = entry.Term };
            if (entry.Payload.Length > 0)
            {
                // Entries are immutable once in the log: the payload is shared, not copied.
                item.Payload = UnsafeByteOperations.UnsafeWrap(entry.Payload);
                bytes += entry.Payload.Length;
            }

            response.Entries.Add(item);
            if (bytes >= FollowBatchBytes)
            {
                break;
            }
        }

        return response;
    }

    /// <summary>Tells a learner which snapshot its log continues from; it fetches the image itself (ADR 0010).</summary>
    private async Task SendSnapshotAsync(FollowerSession session, SnapshotFile snapshot, IServerStreamWriter<FollowResponse> responses, ulong term, ulong leaderId, CancellationToken token)
    {
        Log.FollowerSnapshot(logger, session.Id, snapshot.Index, snapshot.FileLength);
        var descriptor = new byte[SnapshotDescriptor.Size];
        stateMachine.DescribeRetained(snapshot.Index).Write(descriptor);
        await responses.WriteAsync(
            new FollowResponse
            {
                SnapshotIndex = snapshot.Index,
                SnapshotDescriptor = ByteString.CopyFrom(descriptor),
                CommitIndex = snapshot.Index,
                Term = term,
                LeaderId = leaderId,
            },
            token).ConfigureAwait(false);
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
        if (!followers.TryGetValue(memberId, out var session))
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
        if (followers.TryGetValue(memberId, out var session))
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

    /// <summary>Asks the members this one was started with (any that answers) how it is listed.</summary>
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
                var url = await link.ClientUrlAsync(member, ask.Token).ConfigureAwait(false);
                var list = await new Api.Etcd.Cluster.ClusterClient(link.Connect(url))
                    .MemberListAsync(new Api.Etcd.MemberListRequest(), cancellationToken: ask.Token).ConfigureAwait(false);
                if (list.Header.ClusterId != 0 && !adoptClusterId && list.Header.ClusterId != ClusterId)
                {
                    continue; // another cluster
                }

                var self = list.Members.FirstOrDefault(m => m.ID == topology.Local.Id);
                if (self is null)
                {
                    return new Role(false, false, null);
                }

                if (!self.IsLearner)
                {
                    return new Role(true, false, null);
                }

                AdoptClusterId(list.Header.ClusterId);

                // Any voting member may answer; only the leader feeds (the others say so and the next is tried). The
                // feed is member-to-member traffic: it runs on the voters' peer listeners, as the member list names them.
                var peers = new List<EndPoint>();
                foreach (var voter in list.Members.Where(static m => !m.IsLearner && m.PeerURLs.Count > 0))
                {
                    try
                    {
                        peers.Add(ClusterTopology.ParsePeerUrl(voter.Name, voter.PeerURLs[0]));
                    }
                    catch (ArgumentException)
                    {
                        // Not a peer URL this member can dial: skip it.
                    }
                }

                return new Role(true, true, peers);
            }
            catch (Exception e) when (e is RpcException or ConsensusUnavailableException or OperationCanceledException && !token.IsCancellationRequested)
            {
                // Not reachable now: ask the next one.
            }
        }

        return null;
    }

    /// <summary>Follows the log fed by the member at <paramref name="peer"/> until the feed ends; true when promoted.</summary>
    private async Task<bool> FollowAsync(EndPoint peer, CancellationToken token)
    {
        using var call = new Forwarding.ForwardingClient(link.ConnectPeer(peer)).Follow(cancellationToken: token);
        var first = new FollowRequest { MemberId = topology.Local.Id, CommittedIndex = wal.LastCommittedEntryIndex, Name = topology.Local.Name };
        first.ClientUrls.AddRange(topology.Local.ClientUrls);
        try
        {
            await call.RequestStream.WriteAsync(first, token).ConfigureAwait(false);
            Volatile.Write(ref followedPeer, peer);
            await foreach (var response in call.ResponseStream.ReadAllAsync(token).ConfigureAwait(false))
            {
                Volatile.Write(ref followedLeader, response.LeaderId);
                Volatile.Write(ref followedTerm, (long)response.Term);
                if (response.Promoted)
                {
                    if (PromotedAnswerDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(PromotedAnswerDelay, options.TimeProvider, token).ConfigureAwait(false);
                    }

                    // Out of learner mode before the feed ends: the leader waits for that end before MemberPromote
                    // returns (BecomeVoterAsync then hands the log to Raft).
                    isLearner = false;
                    return true;
                }

                if (response.SnapshotIndex > 0 && response.SnapshotIndex > wal.LastCommittedEntryIndex)
                {
                    // Installed before any entry after it: the feed waits meanwhile (HTTP/2 flow control holds the
                    // leader's writes), and the leader keeps the image and its log while this member fetches.
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

                await call.RequestStream.WriteAsync(new FollowRequest { MemberId = topology.Local.Id, CommittedIndex = wal.LastCommittedEntryIndex }, token)
                    .ConfigureAwait(false);
            }

            Log.LearnerFeedEnded(logger, ClusterTopology.PeerUrlOf(peer), "the leader ended it");
        }
        catch (RpcException e) when (!token.IsCancellationRequested)
        {
            Log.LearnerFeedEnded(logger, ClusterTopology.PeerUrlOf(peer), e.Status.Detail);
        }

        // No leader heard from now (health says so until the feed is back).
        Volatile.Write(ref followedLeader, 0UL);
        return false;
    }

    /// <summary>One learner's feed on the leader.</summary>
    private sealed class FollowerSession(ulong id, long committed, CancellationTokenSource ended)
    {
        private const int Following = 0, PromotionStarted = 1, HandingOver = 2;
        private long committedIndex = committed;
        private int state;
        private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ulong Id { get; } = id;

        public long CommittedIndex => Volatile.Read(ref committedIndex);

        public bool Promoting => Volatile.Read(ref state) != Following;

        public TaskCompletionSource<long> HandedOver { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Changed => changed.Task;

        public void Committed(long index)
        {
            Volatile.Write(ref committedIndex, index);
            Signal();
        }

        public bool TryStartPromotion()
        {
            if (ended.IsCancellationRequested || Interlocked.CompareExchange(ref state, PromotionStarted, Following) != Following)
            {
                return false;
            }

            Signal();
            return true;
        }

        public bool TryHandOver() => Interlocked.CompareExchange(ref state, HandingOver, PromotionStarted) == PromotionStarted;

        public bool TryCancelPromotion()
        {
            var cancelled = Interlocked.CompareExchange(ref state, Following, PromotionStarted) == PromotionStarted;
            Signal();
            return cancelled;
        }

        public void End()
        {
            try
            {
                ended.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            // Once handing over, the feed ending is the learner's answer (or the write of "promoted" failed, which
            // the feed loop reports): the loop completes HandedOver either way. Found by LearnerTests under load: the
            // learner's end raced the loop and turned a promotion that happened into a "not in sync" error.
            if (Volatile.Read(ref state) != HandingOver)
            {
                HandedOver.TrySetCanceled();
            }

            Signal();
        }

        private void Signal() =>
            Interlocked.Exchange(ref changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}

using System.Net;
using Conclave.Api.ClusterInternal;
using Conclave.Api.Errors;
using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>The learner side: members that receive the committed log and serve serializable reads and watches, but do not vote.</summary>
/// <remarks>
/// <para>
/// DotNext 6.12 has no non-voting members, so a learner is not in the Raft configuration at all. It follows the
/// leader's committed log through the request channel's <c>Follow</c> requests (ADR 0013) and appends every entry to its
/// own WAL at the same index and term (a snapshot first when it is behind the leader's compacted log), then commits up
/// to the leader's commit index; its state machine applies as on any member. Its log is therefore a prefix of the
/// leader's, durable across restarts, and it never counts toward a quorum or stands for election (it runs in DotNext's
/// standby mode).
/// </para>
/// <para>
/// A member started to join a running cluster learns whether it is a learner by asking the members it was started with
/// how it is listed (<c>Role</c>). Promotion hands the learner to Raft: the leader's feed (<see cref="LearnerFeed"/>)
/// answers "promoted", this member leaves learner mode and says so, and the leader adds it with DotNext's
/// catch-up-then-commit change (<see cref="MembershipChanges"/>); the matching log makes the catch-up short.
/// </para>
/// <para>
/// The feed is pulled: each request carries the highest index the learner has committed, which is also its
/// acknowledgement; the leader answers the entries after it, a snapshot descriptor, or (caught up) a heartbeat after at
/// most <see cref="LearnerFeed.Heartbeat"/>. Nothing is pushed, so a learner that fetches and installs a large snapshot
/// simply asks again when it is done, and a dropped connection costs one request.
/// </para>
/// </remarks>
internal sealed class LearnerFollower
{
    /// <summary>How long a learner waits for one feed answer (a heartbeat comes after at most half a second).</summary>
    private static readonly TimeSpan FollowAnswerWait = TimeSpan.FromSeconds(10);

    /// <summary>The pause before asking the leader again after the image it described could not be fetched.</summary>
    private static readonly TimeSpan FailedFetchPause = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a promoted learner waits to be listed as a voter before it follows again.</summary>
    private static readonly TimeSpan PromotionGrace = TimeSpan.FromSeconds(30);

    private readonly RaftCluster cluster;
    private readonly LeaderLink link;
    private readonly RaftLog wal;
    private readonly ClusterTopology topology;
    private readonly MemberStanding standing;
    private readonly PeerRequestClients requests;
    private readonly RaftNodeOptions options;
    private readonly ILogger logger;
    private readonly CancellationToken stopping;
    private volatile bool isLearner;
    private ulong followedLeader;
    private EndPoint? followedPeer;
    private long followedTerm;
    private Task loop = Task.CompletedTask;

    public LearnerFollower(
        RaftCluster cluster, LeaderLink link, RaftLog wal, ClusterTopology topology, MemberStanding standing, PeerRequestClients requests,
        RaftNodeOptions options, ILogger logger, CancellationToken stopping)
    {
        this.cluster = cluster;
        this.link = link;
        this.wal = wal;
        this.topology = topology;
        this.standing = standing;
        this.requests = requests;
        this.options = options;
        this.logger = logger;
        this.stopping = stopping;
    }

    /// <summary>Whether this member is a learner now.</summary>
    public bool IsLearner => isLearner;

    /// <summary>The leader whose feed this learner follows (0 when none answers now).</summary>
    public ulong FollowedLeader => Volatile.Read(ref followedLeader);

    /// <summary>The term of the leader this learner follows (a learner's own log may trail it).</summary>
    public long FollowedTerm => Volatile.Read(ref followedTerm);

    /// <summary>The peer address of the leader this learner follows, or null.</summary>
    public EndPoint? FollowedPeer => Volatile.Read(ref followedPeer);

    /// <summary>Ends when this member is a voting member (or joining as one) and after it stops.</summary>
    public Task Completion => loop;

    /// <summary>The refusal of something a learner does not do.</summary>
    public static ConclaveErrorException NotForLearner(string what) =>
        new(ErrorCode.NotSupportedForLearner, $"this member is a learner: it serves serializable reads and watches, not {what}; use a voting member");

    /// <summary>
    /// For a member started to join a running cluster (not in the configuration): finds out how it is listed and, while it
    /// is a learner, follows the leader's log.
    /// </summary>
    public void Start()
    {
        if (!standing.InConfiguration)
        {
            loop = Task.Run(LoopAsync);
        }
    }

    private async Task LoopAsync()
    {
        var token = stopping;
        while (!token.IsCancellationRequested && !standing.InConfiguration)
        {
            try
            {
                var role = await FindRoleAsync(token).ConfigureAwait(false);
                if (role is { Listed: true, Learner: false } && !isLearner)
                {
                    File.Delete(standing.LearnerMarker); // a learner once, added again as a voter
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

                if (role is { Listed: false } && (isLearner || File.Exists(standing.LearnerMarker)))
                {
                    standing.MarkRemoved(); // it was a learner and is not listed any more (also: removed while it was down)
                    return;
                }

                if (role is { Learner: true, Urls: { } urls })
                {
                    if (!isLearner)
                    {
                        // Remembered across restarts: a learner is never in the configuration.
                        await PrivateFiles.WriteAllTextAsync(standing.LearnerMarker, "learner\n", token).ConfigureAwait(false);
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

        File.Delete(standing.LearnerMarker);
        return true;
    }

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
                var answer = await requests.AskRoleAsync(member.EndPoint, topology.Local.Id, ask.Token).ConfigureAwait(false);
                if (answer.ClusterId != 0 && !standing.AdoptsClusterId && answer.ClusterId != standing.ClusterId)
                {
                    continue; // another cluster
                }

                if (!answer.Listed || !answer.Learner)
                {
                    return new Role(answer.Listed, false, null);
                }

                standing.AdoptClusterId(answer.ClusterId);

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

    /// <summary>Follows the log fed by the member at <paramref name="peer"/> until the feed ends; true when promoted.</summary>
    private async Task<bool> FollowAsync(EndPoint peer, CancellationToken token)
    {
        var client = requests.For(peer);
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
                    if (!await InstallFetchedAsync(descriptor, response.SnapshotIndex, token).ConfigureAwait(false))
                    {
                        // The image could not be had (the leader no longer holds it, say): ask the leader again, which
                        // describes the snapshot it holds now.
                        await Task.Delay(FailedFetchPause, options.TimeProvider, token).ConfigureAwait(false);
                        continue;
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
            Log.LearnerFeedEnded(logger, topology.PeerUrlOf(peer), e.Message);
        }

        // No leader heard from now (health says so until the feed is back).
        Volatile.Write(ref followedLeader, 0UL);
        return false;
    }

    /// <summary>
    /// Appends the snapshot <paramref name="descriptor"/> names once its image is fetched (in the background; each try
    /// waits a moment for it); false when the fetch failed for good.
    /// </summary>
    private async Task<bool> InstallFetchedAsync(SnapshotDescriptor descriptor, long index, CancellationToken token)
    {
        while (true)
        {
            try
            {
                await wal.AppendAsync(descriptor, index, token).ConfigureAwait(false);
                return true;
            }
            catch (SnapshotNotReadyException e) when (e.Failure is not null)
            {
                Log.LearnerSnapshotFetchFailed(logger, descriptor.ToString(), e.Failure);
                return false;
            }
            catch (SnapshotNotReadyException)
            {
                // Still fetching.
            }
        }
    }

    private async Task<FollowResponse> AskFollowAsync(PeerRequestClient client, FollowRequest request, CancellationToken token)
    {
        using var waitTimer = new CancellationTokenSource(FollowAnswerWait, options.TimeProvider);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(token, waitTimer.Token);
        byte[] answer;
        try
        {
            answer = await client.FollowAsync(request, wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!token.IsCancellationRequested)
        {
            throw new PeerRequestException($"The leader at {client.Peer} sent no feed answer in {FollowAnswerWait.TotalSeconds:0} s.", sent: true, e);
        }

        try
        {
            return FollowResponse.Parser.ParseFrom(answer);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The leader at {client.Peer} answered a feed message that does not parse.", e);
        }
    }
}

using System.Collections.Concurrent;
using Conclave.Api.ClusterInternal;
using Conclave.Cluster.Peers;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// The leader's side of learners' feeds (ADR 0013): admits a learner through the application's
/// <see cref="ILearnerDirectory"/>, answers its pulled <c>Follow</c> requests with the next committed entries, a snapshot
/// descriptor, a heartbeat or "promoted", and keeps one <see cref="LearnerSession"/> per learner and leadership term
/// (what it has committed, whether it is being promoted) for <see cref="RaftNode.PromoteLearnerAsync"/>.
/// </summary>
/// <remarks>
/// Each request carries the highest index the learner has committed, which is also its acknowledgement: the leader
/// keeps no send window, an answer lost with a connection is asked for again, and a learner that installs a large
/// snapshot asks again when it is done.
/// </remarks>
internal sealed class LearnerFeed(
    LeaderLink link,
    RaftLog log,
    SnapshottingStateMachine machine,
    ulong localId,
    int maxFrameBytes,
    Func<ulong, bool> joiningAsVoter,
    Func<Exception> notLeader,
    ClusterFaults? faults,
    TimeProvider time,
    ILogger logger,
    CancellationToken stopping)
{
    /// <summary>Most entries in one answer.</summary>
    public const int MaxAnswerEntries = 512;

    /// <summary>Most entry bytes in one answer (always at least one entry, and always within one request-channel frame).</summary>
    public const int MaxAnswerBytes = 2 * 1024 * 1024;

    /// <summary>A caught-up learner's request is answered after at most this long, with a heartbeat if nothing committed.</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(500);

    /// <summary>A learner that has not asked for this long (and has no request waiting) is not following now.</summary>
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(10);

    /// <summary>Longest name, most client URLs and longest URL a learner may report (what it reports is replicated).</summary>
    public const int MaxNameBytes = 256, MaxClientUrls = 16, MaxUrlBytes = 1024;

    private readonly ConcurrentDictionary<ulong, LearnerSession> sessions = new();
    private ILearnerDirectory? directory;

    /// <summary>Whether any learner is being fed now (it reads the log's recent entries).</summary>
    public bool HasSessions => !sessions.IsEmpty;

    /// <summary>Serves learners with <paramref name="learners"/> from now on (once).</summary>
    public void Use(ILearnerDirectory learners)
    {
        ArgumentNullException.ThrowIfNull(learners);
        if (Interlocked.CompareExchange(ref directory, learners, null) is not null)
        {
            throw new InvalidOperationException("this member already has a learner directory");
        }
    }

    /// <summary>The application's learner records.</summary>
    /// <exception cref="ConsensusUnavailableException">Not registered yet (the member is still starting).</exception>
    public ILearnerDirectory Directory => Volatile.Read(ref directory)
        ?? throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "This member is still starting: it does not serve learners yet.", notApplied: true);

    /// <summary>The session of learner <paramref name="memberId"/> in leadership term <paramref name="term"/>, if it follows now.</summary>
    public LearnerSession? Following(ulong memberId, long term) =>
        sessions.TryGetValue(memberId, out var session) && session.Term == term
            && session.IsFollowing(time.GetTimestamp(), (long)(time.TimestampFrequency * Silence.TotalSeconds))
            ? session
            : null;

    /// <summary>Ends learner <paramref name="memberId"/>'s feed (it was removed): a request waiting now fails.</summary>
    public void Drop(ulong memberId)
    {
        if (sessions.TryRemove(memberId, out var session))
        {
            session.End();
        }
    }

    /// <summary>Ends every feed (the member stops).</summary>
    public void EndAll()
    {
        foreach (var session in sessions.Values)
        {
            session.End();
        }
    }

    /// <summary>Serves one request of a learner's feed (see <see cref="FollowRequest"/>): the next entries, a snapshot, a heartbeat or "promoted".</summary>
    public async Task<FollowResponse> ServeAsync(FollowRequest request, CancellationToken cancellationToken)
    {
        if (request.LeftLearnerMode)
        {
            // The answer to "promoted": whoever leads now, nothing is sent.
            if (sessions.TryGetValue(request.MemberId, out var promoted))
            {
                promoted.LeftLearnerMode();
            }

            return new FollowResponse { Promoted = true, LeaderId = localId, Term = (ulong)log.Term };
        }

        if (!link.TryGetLeadershipTerm(out var term))
        {
            throw notLeader();
        }

        if (joiningAsVoter(request.MemberId))
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, $"Member {request.MemberId:x} is being added as a voting member; Raft replicates to it now.", notApplied: true);
        }

        if (request.Name.Length > MaxNameBytes || request.ClientUrls.Count > MaxClientUrls || request.ClientUrls.Any(static u => u.Length > MaxUrlBytes))
        {
            throw new ArgumentException(
                $"a learner reports a name of at most {MaxNameBytes} characters and at most {MaxClientUrls} client URLs of at most {MaxUrlBytes} characters");
        }

        if (!Directory.IsLearner(request.MemberId))
        {
            throw new MembershipException(MembershipError.NotFound, $"no learner has id {request.MemberId:x}");
        }

        var session = sessions.AddOrUpdate(
            request.MemberId,
            static (id, a) => new LearnerSession(id, a.term, a.request.CommittedIndex),
            static (id, existing, a) => existing.Term == a.term && !existing.Ended ? existing : new LearnerSession(id, a.term, a.request.CommittedIndex),
            (term, request));
        // How the learner is listed is recorded when it changes (the directory writes it through the log), not on
        // every request of the feed.
        var listing = new LearnerInfo(request.MemberId, request.Name, [.. request.ClientUrls]);
        if (session.TakeListing(listing))
        {
            Log.FollowerAttached(logger, session.Id, request.CommittedIndex + 1);
            try
            {
                await Directory.AdmitAsync(listing, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                session.ForgetListing(listing); // recorded on its next request
                throw;
            }
        }

        using var ended = session.BeginRequest(request.CommittedIndex, time.GetTimestamp(), cancellationToken, stopping, link.LeadershipToken);
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

                    if (faults?.LosePromotedAnswers == true)
                    {
                        throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "The feed ended (fault injected: the promoted answer is lost).", notApplied: true);
                    }

                    return new FollowResponse { Promoted = true, Term = (ulong)term, LeaderId = localId, CommitIndex = request.CommittedIndex };
                }

                var commit = log.LastCommittedEntryIndex;
                if (next <= commit)
                {
                    var response = ReadCommitted(next, commit);
                    if (response.Entries.Count == 0)
                    {
                        // The log at 'next' is compacted into the snapshot: the learner fetches that first.
                        if (machine.Snapshot is SnapshotFile snapshot && next <= snapshot.Index)
                        {
                            return DescribeSnapshot(session, snapshot, (ulong)term);
                        }

                        await Task.Delay(TimeSpan.FromMilliseconds(10), time, ended.Token).ConfigureAwait(false); // a snapshot being published
                        continue;
                    }

                    response.CommitIndex = response.Entries[^1].Index;
                    response.Term = (ulong)term;
                    response.LeaderId = localId;
                    return response;
                }

                // Caught up: wait for the next commit or a promotion, and answer a heartbeat if neither comes.
                var changed = session.Changed;
                using (var beatTimer = new CancellationTokenSource(Heartbeat, time))
                using (var beat = CancellationTokenSource.CreateLinkedTokenSource(ended.Token, beatTimer.Token))
                {
                    await Task.WhenAny(log.WaitForApplyAsync(next, beat.Token).AsTask(), changed).ConfigureAwait(false);

                    // Ends the apply wait too when the session changed first (it would wait for the next commit otherwise).
                    await beat.CancelAsync().ConfigureAwait(false);
                }

                if (log.LastCommittedEntryIndex < next && !session.Promoting)
                {
                    return new FollowResponse { CommitIndex = next - 1, Term = (ulong)term, LeaderId = localId };
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            // Leadership ended, the learner was dropped, or a newer request of the same learner replaced this one.
            throw notLeader();
        }
        finally
        {
            session.EndRequest(ended, time.GetTimestamp());
        }
    }

    private FollowResponse ReadCommitted(long from, long commit)
    {
        // One answer fits a request-channel frame: entries up to the budget, and always at least one (no entry is
        // larger than the largest forwarded batch, which a frame holds by construction).
        var budget = Math.Min(MaxAnswerBytes, maxFrameBytes - PeerRequestOptions.PayloadHeadroom);
        var response = new FollowResponse();
        var last = Math.Min(commit, from + MaxAnswerEntries - 1);
        var bytes = 0L;
        foreach (var read in log.Read(from, last).Entries)
        {
            if (read is not StoredEntry entry)
            {
                break; // the snapshot: the log before it is compacted
            }

            if (response.Entries.Count > 0 && bytes + entry.PayloadLength + 32 > budget)
            {
                break;
            }

            var item = new FollowEntry { Index = entry.Index, Term = entry.Term };
            if (entry.PayloadLength > 0)
            {
                // Entries are immutable once in the log: the payload is shared (or read back once if evicted), not copied.
                item.Payload = UnsafeByteOperations.UnsafeWrap(entry.Payload);
            }

            bytes += entry.PayloadLength + 32;
            response.Entries.Add(item);
        }

        return response;
    }

    /// <summary>Tells a learner which snapshot its log continues from; it fetches the image itself (ADR 0010).</summary>
    private FollowResponse DescribeSnapshot(LearnerSession session, SnapshotFile snapshot, ulong term)
    {
        Log.FollowerSnapshot(logger, session.Id, snapshot.Index, snapshot.FileLength);
        var descriptor = new byte[SnapshotDescriptor.Size];
        machine.DescribeRetained(snapshot.Index, hold: true).Write(descriptor);
        return new FollowResponse
        {
            SnapshotIndex = snapshot.Index,
            SnapshotDescriptor = ByteString.CopyFrom(descriptor),
            CommitIndex = snapshot.Index,
            Term = term,
            LeaderId = localId,
        };
    }
}

/// <summary>One learner's feed on the leader, for one leadership term: what it has committed and whether it is being promoted.</summary>
internal sealed class LearnerSession(ulong id, long term, long committed)
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
    private LearnerInfo? listed;

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

    /// <summary>
    /// True when <paramref name="listing"/> differs from what this session last recorded (always the first time): the
    /// caller records it then.
    /// </summary>
    public bool TakeListing(LearnerInfo listing)
    {
        lock (gate)
        {
            if (listed is { } previous && previous.Name == listing.Name && previous.ClientUrls.SequenceEqual(listing.ClientUrls))
            {
                return false;
            }

            listed = listing;
            return true;
        }
    }

    /// <summary>Recording <paramref name="listing"/> failed: the next request tries again.</summary>
    public void ForgetListing(LearnerInfo listing)
    {
        lock (gate)
        {
            if (ReferenceEquals(listed, listing))
            {
                listed = null;
            }
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

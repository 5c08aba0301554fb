using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Conclave.Api.Errors;
using Conclave.Api.Raft;
using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Turns concurrent proposals into log entries: one reader collects whatever is queued into a
/// <see cref="ProposalBatch"/> (bounded by count and bytes) and hands it to Raft without waiting for it, up to
/// <see cref="RaftNodeOptions.MaxInFlightBatches"/> at once; the next batch forms while earlier ones are
/// replicated and flushed. On a follower the batch is forwarded to the leader, which appends it as it is.
/// Either way proposers get their results from the apply of their entry on this member (see
/// <see cref="SnapshottingStateMachine"/> and <see cref="PendingBatches"/>). No lock is held across an await.
/// </summary>
internal sealed class ProposalPipeline : IAsyncDisposable
{
    private readonly RaftCluster cluster;
    private readonly IPersistentState log;
    private readonly RaftNodeOptions options;
    private readonly ClusterMetrics metrics;
    private readonly ILogger logger;
    private readonly CancellationToken stopping;
    private readonly Channel<Proposal> queue;
    private readonly SemaphoreSlim inFlight;
    private readonly LeaderLink link;
    private readonly LeaderBarrier barrier;
    private readonly PeerRequestClients requests;
    private readonly PendingBatches pending;
    private readonly Task loop;
    private long inFlightCommands;

    public ProposalPipeline(
        RaftCluster cluster,
        IPersistentState log,
        LeaderLink link,
        LeaderBarrier barrier,
        PeerRequestClients requests,
        PendingBatches pending,
        RaftNodeOptions options,
        ClusterMetrics metrics,
        ILogger logger,
        CancellationToken stopping)
    {
        this.cluster = cluster;
        this.link = link;
        this.barrier = barrier;
        this.requests = requests;
        this.pending = pending;
        this.log = log;
        this.options = options;
        this.metrics = metrics;
        this.logger = logger;
        this.stopping = stopping;
        queue = Channel.CreateBounded<Proposal>(new BoundedChannelOptions(options.MaxQueuedProposals)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        inFlight = new SemaphoreSlim(options.MaxInFlightBatches, options.MaxInFlightBatches);
        metrics.ObservePendingProposals(() => queue.Reader.Count + Interlocked.Read(ref inFlightCommands));
        loop = Task.Run(RunAsync);
    }

    /// <summary>Queues <paramref name="command"/> for the next batch and waits for its result.</summary>
    public ValueTask<object?> ProposeAsync(Command command, int size, CancellationToken cancellationToken)
    {
        var proposal = new Proposal(command, size) { Caller = ClusterTracing.CallerSpan() };
        if (!queue.Writer.TryWrite(proposal))
        {
            return WaitForRoomAsync(proposal, cancellationToken);
        }

        return cancellationToken.CanBeCanceled
            ? WaitAsync(proposal, cancellationToken)
            : new ValueTask<object?>(proposal.Task);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<object?> WaitForRoomAsync(Proposal proposal, CancellationToken cancellationToken)
    {
        try
        {
            await queue.Writer.WriteAsync(proposal, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw Unavailable.Stopping(notApplied: true); // never queued
        }

        return await WaitAsync(proposal, cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<object?> WaitAsync(Proposal proposal, CancellationToken cancellationToken)
    {
        // Cancelling stops the wait only: a command already handed to the log may still commit.
        await using (cancellationToken.UnsafeRegister(static (state, token) => ((Proposal)state!).TrySetCanceled(token), proposal)
            .ConfigureAwait(false))
        {
            return await proposal.Task.ConfigureAwait(false);
        }
    }

    private async Task RunAsync()
    {
        var reader = queue.Reader;
        var batch = new List<Proposal>(options.MaxBatchCommands);
        Proposal? carried = null;
        try
        {
            while (carried is not null || await reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                await inFlight.WaitAsync(stopping).ConfigureAwait(false);
                var bytes = 0;
                if (carried is not null)
                {
                    batch.Add(carried);
                    bytes = ProposalBatch.FramedSize(carried.Size);
                    carried = null;
                }

                while (batch.Count < options.MaxBatchCommands && reader.TryRead(out var proposal))
                {
                    if (proposal.Task.IsCompleted)
                    {
                        continue; // cancelled by its caller before it reached the log
                    }

                    var size = ProposalBatch.FramedSize(proposal.Size);
                    if (batch.Count > 0 && bytes + size > options.MaxBatchBytes)
                    {
                        carried = proposal;
                        break;
                    }

                    batch.Add(proposal);
                    bytes += size;
                }

                if (batch.Count == 0)
                {
                    inFlight.Release();
                    continue;
                }

                var entry = ProposalBatch.Create(batch, pending.LocalMember, pending.NextId());
                batch.Clear();
                metrics.Proposals.Add(entry.Count);
                metrics.BatchSize.Record(entry.Count);
                metrics.BatchBytes.Record(entry.Payload.Length);
                _ = ReplicateAsync(entry);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.PipelineCrashed(logger, e);
        }
        finally
        {
            var error = Unavailable.Stopping();
            carried?.TrySetException(error);
            foreach (var p in batch)
            {
                p.TrySetException(error);
            }

            queue.Writer.TryComplete();
            while (reader.TryRead(out var p))
            {
                p.TrySetException(error);
            }
        }
    }

    private async Task ReplicateAsync(ProposalBatch batch)
    {
        // Started here, not in the loop: an async method's Activity.Current does not leak back into its caller's.
        using var span = batch.Span = batch.StartSpan();
        Interlocked.Add(ref inFlightCommands, batch.Count);
        pending.Add(batch);
        try
        {
            using var timeout = new CancellationTokenSource(options.ProposalTimeout, options.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping);
            try
            {
                await DeliverAsync(batch, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (stopping.IsCancellationRequested)
            {
                Fail(batch, Unavailable.Stopping(e));
            }
            catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
            {
                Fail(batch, new ConsensusUnavailableException(
                    ConsensusUnavailableReason.ProposalTimedOut,
                    $"The proposal was not committed within {options.ProposalTimeout.TotalMilliseconds:0} ms; its outcome is unknown.", e));
            }
            catch (ObjectDisposedException e)
            {
                Fail(batch, Unavailable.Stopping(e));
            }
            catch (ConsensusUnavailableException e)
            {
                Fail(batch, e);
            }
            catch (Exception e)
            {
                Fail(batch, Unavailable.LogFailed(e));
            }
        }
        finally
        {
            Interlocked.Add(ref inFlightCommands, -batch.Count);
            pending.Remove(batch);
            batch.ReleasePayload();
            inFlight.Release();
        }
    }

    /// <summary>
    /// Gets the batch into the leader's log and waits for its apply here. When a leader may or may not have
    /// appended it (it failed or was cut off mid-request), the batch is sent again only once that is known not to
    /// have happened: a different leader has confirmed its quorum and this member has applied up to that leader's
    /// commit index. A new leader's log holds every entry that can still commit, so a batch not applied by then
    /// never will be. Everything else ends at the proposal timeout with an unknown outcome, as etcd's does.
    /// </summary>
    private async Task DeliverAsync(ProposalBatch batch, CancellationToken token)
    {
        RaftClusterMember? mayHaveAppended = null;
        while (!batch.IsSettled)
        {
            var leader = mayHaveAppended is null
                ? await WaitForLeaderBeforeSendingAsync(token).ConfigureAwait(false)
                : await link.WaitForLeaderAsync(token).ConfigureAwait(false);
            if (mayHaveAppended is not null)
            {
                if (Equals(leader.EndPoint, mayHaveAppended.EndPoint))
                {
                    await Task.WhenAny(batch.Done, link.Changed).WaitAsync(token).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    await barrier.PassAsync(leader, token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is PeerRequestException or NotLeaderException or ConsensusUnavailableException or QuorumUnreachableException)
                {
                    await WaitForChangeOrPauseAsync(leader, token).ConfigureAwait(false);
                    continue;
                }

                if (batch.IsSettled)
                {
                    break;
                }

                metrics.ResentBatches.Add(1);
                mayHaveAppended = null;
            }

            if (link.IsLocal(leader))
            {
                // No per-entry context: DotNext can keep an entry's context for its index after a new leader
                // replaced the entry there, which would hand this batch another entry's results. The batch is found
                // by the origin written in the payload, which is the entry's own bytes.
                if (!link.TryGetLeadershipTerm(out var term))
                {
                    // Leading by DotNext's account, but a newer term is known: stepping down. Nothing appended.
                    await WaitForChangeOrPauseAsync(leader, token).ConfigureAwait(false);
                    continue;
                }

                var entry = new BinaryLogEntry
                {
                    Content = batch.Payload,
                    Term = term,
                };
                try
                {
                    await cluster.ReplicateAsync(entry, token).ConfigureAwait(false);
                    batch.Span?.AddEvent(new System.Diagnostics.ActivityEvent("committed"));
                }
                catch (NotLeaderException)
                {
                    mayHaveAppended = leader;
                    continue;
                }
            }
            else
            {
                try
                {
                    metrics.ForwardedBatches.Add(1);
                    batch.Span?.AddEvent(new System.Diagnostics.ActivityEvent("forwarded"));
                    await requests.ProposeAsync(leader.EndPoint, pending.LocalMember, batch.Payload, token).ConfigureAwait(false);
                    batch.Span?.AddEvent(new System.Diagnostics.ActivityEvent("committed"));
                }
                catch (ConsensusUnavailableException e) when (e.NotApplied)
                {
                    // It is not (or no longer) the leader and did not append the batch.
                    await WaitForChangeOrPauseAsync(leader, token).ConfigureAwait(false);
                    continue;
                }
                catch (ArgumentException e)
                {
                    // The leader refused the batch before appending it (ADR 0008): no other leader would take it either.
                    Log.ForwardedBatchRefused(logger, batch.Count, e.Message);
                    batch.Fail(new ConclaveErrorException(ErrorCode.InvalidArgument, e.Message));
                    return;
                }
                catch (PeerRequestException e) when (!e.Sent && !token.IsCancellationRequested)
                {
                    // No connection was made (e.g. refused: the leader is down), so nothing was sent.
                    await WaitForChangeOrPauseAsync(leader, token).ConfigureAwait(false);
                    continue;
                }
                catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException && !token.IsCancellationRequested)
                {
                    // The connection dropped mid-request, or the leader lost its lead before the entry committed.
                    mayHaveAppended = leader;
                    continue;
                }
            }

            // Appended and committed at its index. The apply of that index on this member hands out the results,
            // unless a new leader replaced the entry there first: so wait for the results or a leader change,
            // which the top of the loop turns into a check with the next leader.
            mayHaveAppended = leader;
        }
    }

    /// <summary>
    /// Waits for a leader while nothing has been sent, at most <see cref="RaftNodeOptions.LeaderWaitTimeout"/>: a
    /// member cut off from the majority answers "no leader" soon, and the caller knows nothing was applied.
    /// </summary>
    private async Task<RaftClusterMember> WaitForLeaderBeforeSendingAsync(CancellationToken token)
    {
        if (link.Current is { } known)
        {
            return known;
        }

        using var wait = new CancellationTokenSource(options.LeaderWaitTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, wait.Token);
        try
        {
            return await link.WaitForLeaderAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested && !token.IsCancellationRequested)
        {
            throw new ConsensusUnavailableException(
                ConsensusUnavailableReason.NoLeader,
                $"No leader has been known for {options.LeaderWaitTimeout.TotalMilliseconds:0} ms; the proposal was not applied.",
                notApplied: true);
        }
    }

    /// <summary>Waits for a new leader, or a moment when the same one stays (so a retry is never a busy loop).</summary>
    private async Task WaitForChangeOrPauseAsync(RaftClusterMember leader, CancellationToken token)
    {
        var changed = link.WaitForChangeFromAsync(leader, token).AsTask();
        await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(50), options.TimeProvider, token)).ConfigureAwait(false);
        token.ThrowIfCancellationRequested();
    }

    private void Fail(ProposalBatch batch, ConsensusUnavailableException error)
    {
        var failed = batch.Fail(error);
        batch.Span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error.Message);
        if (failed > 0)
        {
            metrics.FailedProposals.Add(failed);
            Log.BatchFailed(logger, failed, error.Message);
        }
    }

    /// <summary>
    /// Refuses new proposals, fails the queued ones and waits for the entries in flight to finish (they are
    /// cancelled by the stopping token, which the owner cancels first).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        for (var i = 0; i < options.MaxInFlightBatches; i++)
        {
            await inFlight.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        inFlight.Dispose();
    }
}

using Conclave.Api.Raft;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>The leader's side of its followers' requests: forwarded proposal batches and read indexes (Raft's ReadIndex).</summary>
internal sealed class FollowerRequests
{
    private readonly RaftCluster cluster;
    private readonly LeaderLink link;
    private readonly ClusterView view;
    private readonly RaftLog wal;
    private readonly LeaderBarrier barrier;
    private readonly Func<ulong, bool> isKnownMember;
    private readonly RaftNodeOptions options;
    private readonly IReplicatedStateMachine appliedMachine;
    private readonly ILogger logger;
    private readonly CancellationToken stopping;
    private readonly ReadBarrierCoalescer commitAnnouncer;

    /// <param name="isKnownMember">Whether a member id is in the configuration or joining it: only such members forward batches.</param>
    public FollowerRequests(
        RaftCluster cluster, LeaderLink link, ClusterView view, RaftLog wal, LeaderBarrier barrier, Func<ulong, bool> isKnownMember,
        RaftNodeOptions options, IReplicatedStateMachine appliedMachine, ILogger logger, CancellationToken stopping)
    {
        this.cluster = cluster;
        this.link = link;
        this.view = view;
        this.wal = wal;
        this.barrier = barrier;
        this.isKnownMember = isKnownMember;
        this.options = options;
        this.appliedMachine = appliedMachine;
        this.logger = logger;
        this.stopping = stopping;
        commitAnnouncer = new ReadBarrierCoalescer(AnnounceCommitAsync);
    }

    /// <summary>
    /// Leader side of forwarding: appends a follower's batch (a serialized <see cref="CommandBatch"/>) as one
    /// entry and returns once it is committed. The follower gets its results from its own apply of the entry.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">
    /// Not the leader (<see cref="ConsensusUnavailableException.NotApplied"/>), or the outcome is unknown.
    /// </exception>
    /// <exception cref="ArgumentException">The batch was refused by the check (ADR 0008); nothing was appended.</exception>
    public async ValueTask AppendForwardedAsync(ulong fromMember, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        if (stopping.IsCancellationRequested)
        {
            throw Unavailable.Stopping(notApplied: true);
        }

        if (!link.TryGetLeadershipTerm(out var term))
        {
            throw view.NotLeaderHere();
        }

        try
        {
            ForwardedBatch.Validate(batch.Span, fromMember, isKnownMember, options, appliedMachine);
        }
        catch (ArgumentException e)
        {
            Log.ForwardedBatchInvalid(logger, fromMember, e.Message);
            throw;
        }

        using var timeout = new CancellationTokenSource(options.ProposalTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, stopping);
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
    public async ValueTask<long> ConfirmLeadershipAsync(CancellationToken cancellationToken)
    {
        if (!view.IsLeader)
        {
            throw view.NotLeaderHere();
        }

        var term = wal.Term;
        await barrier.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!view.IsLeader || wal.Term != term)
        {
            throw view.NotLeaderHere();
        }

        return wal.LastCommittedEntryIndex;
    }

    /// <summary>One replication round that tells the followers the new commit index.</summary>
    private async Task AnnounceCommitAsync(CancellationToken cancellationToken)
    {
        if (!view.IsLeader || stopping.IsCancellationRequested)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(options.RequestTimeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stopping);
        try
        {
            await cluster.ForceReplicationAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or NotLeaderException or ObjectDisposedException)
        {
            // Best effort: the next heartbeat carries the commit index anyway.
        }
    }
}

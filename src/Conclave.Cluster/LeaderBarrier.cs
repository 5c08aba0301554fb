using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>
/// Raft's ReadIndex from any member: the leader confirms it still leads a quorum (a heartbeat round) and
/// answers its commit index; this member then waits until it has applied that index. A follower never trusts
/// its own view of the commit index. On the leader itself this is DotNext's strong read barrier. Concurrent
/// linearizable reads share rounds (<see cref="WaitAsync"/>).
/// </summary>
internal sealed class LeaderBarrier
{
    private readonly RaftCluster cluster;
    private readonly IPersistentState log;
    private readonly LeaderLink link;
    private readonly PeerRequestClients requests;
    private readonly ulong localMember;
    private readonly Func<Task> restored;
    private readonly TimeSpan roundTimeout;
    private readonly TimeProvider time;
    private readonly CancellationToken stopping;
    private readonly ReadBarrierCoalescer rounds;

    /// <param name="restored">Completes once a snapshot received from the leader is loaded.</param>
    /// <param name="roundTimeout">How long one shared round may take (<see cref="RaftNodeOptions.ReadBarrierTimeout"/>).</param>
    public LeaderBarrier(
        RaftCluster cluster, IPersistentState log, LeaderLink link, PeerRequestClients requests, ulong localMember, Func<Task> restored,
        TimeSpan roundTimeout, TimeProvider time, CancellationToken stopping)
    {
        this.cluster = cluster;
        this.log = log;
        this.link = link;
        this.requests = requests;
        this.localMember = localMember;
        this.restored = restored;
        this.roundTimeout = roundTimeout;
        this.time = time;
        this.stopping = stopping;
        rounds = new ReadBarrierCoalescer(RoundAsync);
    }

    /// <summary>
    /// Joins the next shared round (see <see cref="ReadBarrierCoalescer"/>): completes once this member has applied every
    /// entry committed before the call, with the leader's quorum confirmed.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">No leader, the leader unreachable, the round timed out, or this member stops.</exception>
    public Task WaitAsync(CancellationToken cancellationToken) => rounds.WaitAsync(cancellationToken);

    /// <summary>
    /// Passes one barrier through <paramref name="leader"/>. Afterwards this member has applied every entry that
    /// was committed when the barrier began.
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">The leader asked does not lead (any more): <see cref="ConsensusUnavailableException.NotApplied"/>.</exception>
    /// <exception cref="PeerRequestException">The remote leader could not be reached, or the connection dropped.</exception>
    public async Task PassAsync(RaftClusterMember leader, CancellationToken cancellationToken)
    {
        if (link.IsLocal(leader))
        {
            // The barrier must end in the term it began in: a leader that learns of a newer term during its
            // heartbeat round was deposed, and what it has applied may already be stale.
            if (!link.TryGetLeadershipTerm(out var term))
            {
                throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "This member is stepping down: a newer term is known.", notApplied: true);
            }

            await cluster.ApplyReadBarrierAsync(ReadBarrierType.Strong, cancellationToken).ConfigureAwait(false);
            if (!link.TryGetLeadershipTerm(out var after) || after != term)
            {
                throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderChanged, "Leadership was lost during the read barrier.", notApplied: true);
            }

            return;
        }

        var (commitIndex, _) = await requests.ReadIndexAsync(leader.EndPoint, localMember, cancellationToken).ConfigureAwait(false);
        await log.WaitForApplyAsync(commitIndex, cancellationToken).ConfigureAwait(false);
        // A snapshot from the leader counts as applied once it is received; its state is loaded in the background.
        await restored().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One shared barrier round (see <see cref="ReadBarrierCoalescer"/>).</summary>
    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(roundTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, stopping);
        try
        {
            while (true)
            {
                var leader = await link.WaitForLeaderAsync(linked.Token).ConfigureAwait(false);
                try
                {
                    await PassAsync(leader, linked.Token).ConfigureAwait(false);
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
                $"Read barrier timed out after {roundTimeout.TotalMilliseconds:0} ms: no leader, or the leader cannot reach a quorum.", e);
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
}

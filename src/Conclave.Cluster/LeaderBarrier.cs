using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>
/// Raft's ReadIndex from any member: the leader confirms it still leads a quorum (a heartbeat round) and
/// answers its commit index; this member then waits until it has applied that index. A follower never trusts
/// its own view of the commit index. On the leader itself this is DotNext's strong read barrier.
/// </summary>
internal sealed class LeaderBarrier(RaftCluster cluster, IPersistentState log, LeaderLink link, PeerRequestClients requests, ulong localMember, Func<Task> restored)
{
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

        var (commitIndex, _) = await RaftNode.ReadIndexAsync(requests, leader.EndPoint, localMember, cancellationToken).ConfigureAwait(false);
        await log.WaitForApplyAsync(commitIndex, cancellationToken).ConfigureAwait(false);
        // A snapshot from the leader counts as applied once it is received; its state is loaded in the background.
        await restored().WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}

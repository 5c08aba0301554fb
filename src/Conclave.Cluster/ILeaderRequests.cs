namespace Conclave.Cluster;

/// <summary>
/// Requests of the application that only the leader can answer (lease renewals and remaining TTLs, membership
/// changes), carried to the leader on the peer listener's request channel (ADR 0013). The application names each kind
/// of request and encodes its own messages; the cluster carries the bytes and the typed errors
/// (<see cref="ConsensusUnavailableException"/>, <see cref="ArgumentException"/>, <see cref="Api.Errors.ConclaveErrorException"/>,
/// <see cref="MembershipException"/>) that a handler throws, so the caller sees the leader's failure as its own.
/// </summary>
public interface ILeaderRequests
{
    /// <summary>
    /// Waits for a leader (until <paramref name="cancellationToken"/> ends) and sends it a request of
    /// <paramref name="kind"/>; returns the leader's answer, or null when this member leads (the caller answers itself).
    /// </summary>
    /// <exception cref="ConsensusUnavailableException">
    /// The member asked does not lead (any more; <see cref="ConsensusUnavailableException.NotApplied"/>: ask again), or
    /// this member is a learner.
    /// </exception>
    /// <exception cref="Peers.PeerRequestException">The leader could not be reached, or the connection dropped mid-request.</exception>
    ValueTask<ReadOnlyMemory<byte>?> SendToLeaderAsync(string kind, ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

    /// <summary>
    /// Registers the handler that answers requests of <paramref name="kind"/> arriving from other members. A handler runs
    /// on whatever member is asked: it checks that this member leads and throws "not the leader" (NotApplied) otherwise.
    /// </summary>
    void Handle(string kind, LeaderRequestHandler handler);
}

/// <summary>Answers one application request from another member (see <see cref="ILeaderRequests"/>).</summary>
public delegate ValueTask<ReadOnlyMemory<byte>> LeaderRequestHandler(ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

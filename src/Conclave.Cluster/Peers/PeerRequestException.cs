namespace Conclave.Cluster.Peers;

/// <summary>
/// A request to another member failed in transport: no connection could be made (<see cref="Sent"/> false: the
/// request never left, nothing was done), or the connection dropped or went silent after it was sent (the outcome is
/// unknown). Failures the other member reports come as their own types (see <see cref="ConsensusUnavailableException"/>).
/// </summary>
public sealed class PeerRequestException(string message, bool sent, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>Whether the request may have reached the other member (false: it certainly did not).</summary>
    public bool Sent { get; } = sent;
}

namespace Conclave.Cluster;

/// <summary>
/// Consensus could not serve the request: no leader, leadership lost, a timeout, or this member is stopping.
/// For a proposal the outcome is unknown (it may still be applied) unless <see cref="NotApplied"/> says otherwise.
/// </summary>
public sealed class ConsensusUnavailableException(string message, Exception? innerException = null, bool notApplied = false)
    : Exception(message, innerException)
{
    /// <summary>The request certainly was not, and will not be, applied: retrying it is safe.</summary>
    public bool NotApplied { get; } = notApplied;
}

namespace Conclave.Cluster;

/// <summary>
/// Consensus could not serve the request; <see cref="Reason"/> says why. For a proposal the outcome is unknown (it may
/// still be applied) unless <see cref="NotApplied"/> says otherwise.
/// </summary>
public sealed class ConsensusUnavailableException(ConsensusUnavailableReason reason, string message, Exception? innerException = null, bool notApplied = false)
    : Exception(message, innerException)
{
    /// <summary>Why the request could not be served.</summary>
    public ConsensusUnavailableReason Reason { get; } = reason;

    /// <summary>The request certainly was not, and will not be, applied: retrying it is safe.</summary>
    public bool NotApplied { get; } = notApplied;
}

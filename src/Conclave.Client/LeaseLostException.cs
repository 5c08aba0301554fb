namespace Conclave.Client;

/// <summary>
/// A lease the client was keeping alive ended (see <see cref="Reason"/>): the session, and every lock or
/// leadership held through it, is over.
/// </summary>
public sealed class LeaseLostException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="leaseId">The lease that ended.</param>
    /// <param name="reason">Why it ended.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public LeaseLostException(long leaseId, LeaseLostReason reason, Exception? innerException = null)
        : base(Describe(leaseId, reason), innerException)
    {
        LeaseId = leaseId;
        Reason = reason;
    }

    /// <summary>The lease that ended.</summary>
    public long LeaseId { get; }

    /// <summary>Why it ended.</summary>
    public LeaseLostReason Reason { get; }

    private static string Describe(long leaseId, LeaseLostReason reason) => reason switch
    {
        LeaseLostReason.NotFound => $"Lease {leaseId:x} no longer exists: it expired or was revoked.",
        LeaseLostReason.DeadlinePassed => $"Lease {leaseId:x} could not be renewed before its TTL ran out; it must be assumed expired.",
        _ => $"Lease {leaseId:x} was closed by its owner.",
    };
}

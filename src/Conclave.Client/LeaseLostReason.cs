namespace Conclave.Client;

/// <summary>Why a lease kept alive by the client ended.</summary>
public enum LeaseLostReason
{
    /// <summary>The server says the lease does not exist any more: it expired or was revoked.</summary>
    NotFound,

    /// <summary>
    /// No renewal reached the cluster before the TTL ran out (counted from the last renewal's send time), so the
    /// lease must be assumed expired even if the cluster could not say so.
    /// </summary>
    DeadlinePassed,

    /// <summary>The owner closed it: the session was disposed, the lock released or the leadership resigned.</summary>
    Closed,
}

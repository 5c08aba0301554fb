using Grpc.Core;

namespace Conclave.Client;

/// <summary>The request names a lease that does not exist (never granted, revoked or expired).</summary>
public sealed class LeaseNotFoundException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="leaseId">The lease asked for; zero when unknown.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public LeaseNotFoundException(long leaseId, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base(leaseId != 0 ? $"Lease {leaseId:x} was not found." : "The requested lease was not found.", statusCode, serverMessage, endpoint, innerException)
    {
        LeaseId = leaseId;
    }

    /// <summary>The lease asked for; zero when unknown.</summary>
    public long LeaseId { get; }
}

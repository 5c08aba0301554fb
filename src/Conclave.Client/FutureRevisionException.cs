using Grpc.Core;

namespace Conclave.Client;

/// <summary>A read or compaction asked for a revision newer than the keyspace's current revision.</summary>
public sealed class FutureRevisionException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="requestedRevision">The revision asked for; zero when unknown.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public FutureRevisionException(long requestedRevision, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base(
            requestedRevision > 0
                ? $"Revision {requestedRevision} is a future revision."
                : "The requested revision is a future revision.",
            statusCode,
            serverMessage,
            endpoint,
            innerException)
    {
        RequestedRevision = requestedRevision;
    }

    /// <summary>The revision asked for; zero when unknown.</summary>
    public long RequestedRevision { get; }
}

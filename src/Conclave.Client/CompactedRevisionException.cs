using Grpc.Core;

namespace Conclave.Client;

/// <summary>A read or compaction asked for a revision that has already been compacted away.</summary>
public sealed class CompactedRevisionException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="requestedRevision">The revision asked for; zero when unknown.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public CompactedRevisionException(long requestedRevision, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base(
            requestedRevision > 0
                ? $"Revision {requestedRevision} has been compacted; read a newer revision."
                : "The requested revision has been compacted; read a newer revision.",
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

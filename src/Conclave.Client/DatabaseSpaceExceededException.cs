using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// The storage quota is exhausted: the cluster raised a NOSPACE alarm and rejects writes until space is freed
/// (compaction, defragmentation) and the alarm is disarmed. Reads still work.
/// </summary>
public sealed class DatabaseSpaceExceededException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public DatabaseSpaceExceededException(StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base("The database space quota is exceeded; writes are rejected until space is reclaimed and the alarm disarmed.", statusCode, serverMessage, endpoint, innerException)
    {
    }
}

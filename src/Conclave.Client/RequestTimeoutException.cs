using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// The request did not complete in time: the client deadline (<see cref="ConclaveClientOptions.RequestTimeout"/>)
/// passed, or the server timed out waiting for consensus. A timed-out write may or may not have been applied.
/// </summary>
public sealed class RequestTimeoutException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public RequestTimeoutException(StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"The request to {endpoint ?? "the cluster"} timed out; a write may or may not have been applied.", statusCode, serverMessage, endpoint, innerException)
    {
    }
}

using Grpc.Core;

namespace Conclave.Client;

/// <summary>No endpoint could serve the request: connections failed or were lost, after every allowed retry.</summary>
public sealed class EndpointUnavailableException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">gRPC status of the last failed call.</param>
    /// <param name="serverMessage">Error text of the last failure.</param>
    /// <param name="endpoint">Endpoint of the last attempt.</param>
    /// <param name="innerException">The last underlying failure.</param>
    public EndpointUnavailableException(StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"Endpoint {endpoint ?? "unknown"} is unavailable: {serverMessage}", statusCode, serverMessage, endpoint, innerException)
    {
    }
}

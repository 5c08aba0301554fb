using Grpc.Core;

namespace Conclave.Client;

/// <summary>The contacted member has no leader (an election is in progress or it is cut off from a majority).</summary>
public sealed class NoLeaderException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public NoLeaderException(StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"The cluster has no leader (endpoint {endpoint ?? "unknown"}).", statusCode, serverMessage, endpoint, innerException)
    {
    }
}

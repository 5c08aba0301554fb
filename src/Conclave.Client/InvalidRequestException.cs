using Grpc.Core;

namespace Conclave.Client;

/// <summary>The server rejected the request as invalid (empty key, too large, too many transaction operations, ...).</summary>
public sealed class InvalidRequestException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">Which validation failed.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public InvalidRequestException(InvalidRequestReason reason, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"Invalid request: {serverMessage ?? reason.ToString()}", statusCode, serverMessage, endpoint, innerException)
    {
        Reason = reason;
    }

    /// <summary>Which validation failed.</summary>
    public InvalidRequestReason Reason { get; }
}

using Grpc.Core;

namespace Conclave.Client;

/// <summary>The caller is not authenticated, or not allowed to perform the request.</summary>
public sealed class PermissionDeniedException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">gRPC status of the failed call (<c>PermissionDenied</c> or <c>Unauthenticated</c>).</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public PermissionDeniedException(StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"Permission denied: {serverMessage}", statusCode, serverMessage, endpoint, innerException)
    {
    }
}

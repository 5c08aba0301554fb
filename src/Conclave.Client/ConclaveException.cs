using Conclave.Api.Errors;
using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// Base of every error the client raises for a failed request. Expected outcomes (a missing key, a failed
/// transaction comparison) are results, not exceptions.
/// </summary>
public class ConclaveException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ConclaveException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying failure.</param>
    public ConclaveException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a failed gRPC call.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent, e.g. <c>etcdserver: no leader</c>.</param>
    /// <param name="endpoint">Endpoint that answered, when known.</param>
    /// <param name="innerException">The underlying failure.</param>
    public ConclaveException(string message, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        ServerMessage = serverMessage;
        Endpoint = endpoint;
    }

    /// <summary>gRPC status of the failed call; <see cref="Grpc.Core.StatusCode.Unknown"/> when the error did not come from a call.</summary>
    public StatusCode StatusCode { get; } = StatusCode.Unknown;

    /// <summary>Error text the server sent, e.g. <c>etcdserver: mvcc: required revision has been compacted</c>.</summary>
    public string? ServerMessage { get; }

    /// <summary>Endpoint the failed call went to, when known.</summary>
    public string? Endpoint { get; }

    /// <summary>
    /// The error the server answered with: from the <c>conclave-code</c> trailer a Conclave member sends, or recognised
    /// by etcd's exact text when the server is etcd itself; <c>null</c> when the failure carries none (a lost
    /// connection, a deadline).
    /// </summary>
    public ErrorCode? ErrorCode { get; private set; }

    internal ConclaveException WithCode(ErrorCode? code)
    {
        ErrorCode = code;
        return this;
    }
}

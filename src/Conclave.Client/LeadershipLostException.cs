using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// A call that needs the leadership of an election (proclaim) was refused because the caller's candidate key
/// is gone: it resigned, or its lease ended.
/// </summary>
public sealed class LeadershipLostException : ConclaveException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="election">The election's name.</param>
    /// <param name="statusCode">gRPC status of the failed call.</param>
    /// <param name="serverMessage">Error text the server sent.</param>
    /// <param name="endpoint">Endpoint that answered.</param>
    /// <param name="innerException">The underlying failure.</param>
    public LeadershipLostException(string election, StatusCode statusCode, string? serverMessage, string? endpoint, Exception? innerException)
        : base($"Not the leader of election '{election}' any more.", statusCode, serverMessage, endpoint, innerException)
    {
        Election = election;
    }

    /// <summary>The election's name.</summary>
    public string Election { get; }
}

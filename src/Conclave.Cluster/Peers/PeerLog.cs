using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>Source-generated log messages of the peer listener and peer connections; EventIds 2100-2109 and 2120-2149 (2110-2119 are the snapshot transfer's, in Log).</summary>
internal static partial class PeerLog
{
    // Debug: anyone who can reach the port can make these, so they must not flood the log at the default level.
    [LoggerMessage(EventId = 2100, Level = LogLevel.Debug, Message = "Peer listener closed a connection from {Remote}: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Peer listener: accepting a connection failed ({Error}); still listening")]
    public static partial void AcceptFailed(ILogger logger, string error);

    // Peer TLS: a refused certificate is an operator's business (a member misconfigured, or someone else knocking), at
    // Warning once a minute per address (RefusalWarnings); the repeats at Debug.
    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Peer listener refused a TLS connection from {Remote}: {Reason}")]
    public static partial void TlsRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Connecting to the member at {Peer} failed in the TLS handshake: {Reason}")]
    public static partial void TlsConnectFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Debug, Message = "Peer TLS handshake with {Address} failed again: {Reason}")]
    public static partial void TlsFailedAgain(ILogger logger, string address, string reason);

    // The request channel (ADR 0013): 2120-2129.
    [LoggerMessage(EventId = 2120, Level = LogLevel.Debug, Message = "Request channel: closed the connection from {Remote}: {Reason}")]
    public static partial void RequestProtocolError(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 2121, Level = LogLevel.Debug, Message = "Request channel: connected to the member at {Peer}")]
    public static partial void RequestConnected(ILogger logger, string peer);

    [LoggerMessage(EventId = 2122, Level = LogLevel.Information, Message = "Request channel: the connection to the member at {Peer} closed with {Pending} request(s) waiting ({Reason}); the next request opens another")]
    public static partial void RequestConnectionClosed(ILogger logger, string peer, int pending, string reason);

    [LoggerMessage(EventId = 2123, Level = LogLevel.Warning, Message = "Request channel: the member at {Peer} sent nothing for {SilentMs} ms, a ping included, with {Pending} request(s) waiting; closing the connection")]
    public static partial void RequestPeerSilent(ILogger logger, string peer, long silentMs, int pending);

    [LoggerMessage(EventId = 2124, Level = LogLevel.Debug, Message = "Request channel: a {Kind} request failed here: {Error}: {Reason}")]
    public static partial void RequestFailed(ILogger logger, string kind, string error, string reason);
}

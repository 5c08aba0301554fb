using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Peers;

/// <summary>Source-generated log messages of the peer listener and peer connections; EventIds 2100-2149.</summary>
internal static partial class PeerLog
{
    // Debug: anyone who can reach the port can make these, so they must not flood the log at the default level.
    [LoggerMessage(EventId = 2100, Level = LogLevel.Debug, Message = "Peer listener closed a connection from {Remote}: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Peer listener: accepting a connection failed ({Error}); still listening")]
    public static partial void AcceptFailed(ILogger logger, string error);
}

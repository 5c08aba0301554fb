using Microsoft.Extensions.Logging;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// The :authority pre-parser's log lines (EventIds 3300-3309). All Debug and one line each: any client can cause
/// them at will, so they must not cost more than the request that caused them.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3330, Level = LogLevel.Debug, Message = "Connection {ConnectionId}: first header block not inspected for a URL :authority ({Reason}); Kestrel reads it as sent")]
    public static partial void FirstBlockNotInspected(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 3331, Level = LogLevel.Debug, Message = "Connection {ConnectionId}: header block refused on a repaired connection ({Reason}); the connection ends")]
    public static partial void RepairedBlockRefused(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 3332, Level = LogLevel.Debug, Message = "Connection {ConnectionId}: header block not finished within {Timeout}; the connection ends")]
    public static partial void HeaderBlockTimedOut(ILogger logger, string connectionId, TimeSpan timeout);
}

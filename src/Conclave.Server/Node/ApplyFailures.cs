using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Node;

/// <summary>
/// Commands the store rejected because applying them threw (a defect, ADR 0008): logged at Critical with the log index,
/// and counted (<c>conclave_apply_failed_commands_total</c>), so that an operator sees the defect while the cluster
/// stays up and its members stay identical.
/// </summary>
internal static partial class ApplyFailures
{
    private static readonly Meter Meter = new("Conclave.Apply");
    private static readonly Counter<long> Failed = Meter.CreateCounter<long>(
        "conclave.apply.failed_commands", "{command}", "Commands rejected on every member because applying them threw (a defect; see the Critical log)");

    public static Action<long, int, Exception> Reporter(ILogger logger) => (index, position, exception) =>
    {
        Failed.Add(1);
        CommandFailed(logger, index, position, exception);
    };

    [LoggerMessage(EventId = 3320, Level = LogLevel.Critical,
        Message = "Applying command {Position} of log entry {Index} threw: it was rejected (on every member alike) and applying goes on. This is a defect; please report it with this message")]
    private static partial void CommandFailed(ILogger logger, long index, int position, Exception exception);
}

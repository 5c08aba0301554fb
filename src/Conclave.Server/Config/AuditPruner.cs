using Conclave.ConfigCenter;
using Conclave.Server.Node;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Config;

/// <summary>
/// On the leader, every <see cref="Interval"/>, drops the audit entries the center's retention no longer keeps
/// (<c>auditRetentionDays</c> in <c>/api/v1/settings</c>; 0, the default, keeps everything). A failure (no leader, a
/// full disk) is logged and tried again at the next tick.
/// </summary>
internal sealed partial class AuditPruner(ConclaveNode node, AuditRetention retention, ILogger<AuditPruner> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, node.Options.TimeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!node.Consensus.IsLeader)
                {
                    continue;
                }

                try
                {
                    var dropped = await retention.PruneAsync(stoppingToken);
                    if (dropped > 0)
                    {
                        LogPruned(logger, dropped);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "audit retention: dropped {Count} entries older than the retention")]
    private static partial void LogPruned(ILogger logger, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "audit retention: pruning failed ({Reason}); trying again in 5 minutes")]
    private static partial void LogFailed(ILogger logger, string reason);
}

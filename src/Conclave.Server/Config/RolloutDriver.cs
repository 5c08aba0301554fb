using Conclave.ConfigCenter;
using Conclave.Server.Node;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Config;

/// <summary>
/// Drives rollout plans (issue 22 item 2) on the leader: every <see cref="Interval"/> it reads the index of active plans
/// and gives each a look (<see cref="ConfigCenterService.DriveRolloutAsync"/>) with what the namespace's instances
/// reported: halt and roll back past a limit, advance a step that has baked, promote after the last. The plan lives in
/// the replicated namespace record and every step is a guarded change of it, so a new leader picks up where the old
/// one stopped and no step runs twice. With no active plan a look costs one empty range read.
/// </summary>
internal sealed partial class RolloutDriver(ConclaveNode node, ConfigCenterService center, DeliveryService delivery, ILogger<RolloutDriver> logger) : BackgroundService
{
    /// <summary>How often plans are looked at: the bound on the time from a limit being passed to the rollback being committed.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, node.Options.TimeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!node.Consensus.IsLeader)
                {
                    ConfigCenterMetrics.ActiveRollouts(0);
                    continue;
                }

                IReadOnlyList<(string App, string Env, string Ns)> active;
                try
                {
                    active = await center.ActiveRolloutsAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    ConfigCenterMetrics.RolloutLookFailed();
                    LogFailed(logger, "(index)", e.Message);
                    continue;
                }

                ConfigCenterMetrics.ActiveRollouts(active.Count);

                foreach (var (app, env, ns) in active)
                {
                    try
                    {
                        IReadOnlyList<ConfigCenter.Model.InstanceRecord> instances;
                        try
                        {
                            instances = await delivery.InstancesAsync(app, env, ns, stoppingToken);
                        }
                        catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.NotFound)
                        {
                            instances = []; // the namespace is gone: the look below drops its index entry
                        }

                        using var span = ServerTracing.Source.StartActivity("config.rollout.look");
                        span?.SetTag("conclave.config.namespace", $"{app}/{env}/{ns}");
                        if (await center.DriveRolloutAsync(app, env, ns, instances, stoppingToken) is { } did)
                        {
                            ConfigCenterMetrics.RolloutStepped();
                            LogDrove(logger, $"{app}/{env}/{ns}", did);
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        ConfigCenterMetrics.RolloutLookFailed();
                        LogFailed(logger, $"{app}/{env}/{ns}", e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "rollout {Namespace}: {What}")]
    private static partial void LogDrove(ILogger logger, string @namespace, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rollout {Namespace}: the look failed ({Reason}); trying again at the next tick")]
    private static partial void LogFailed(ILogger logger, string @namespace, string reason);
}

using Conclave.Server.Node;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Diagnostics;

/// <summary>
/// On a follower, asks the leader for its commit index every couple of seconds (the ReadIndex call followers use
/// for reads) and feeds <see cref="FollowerProgress"/>, which /metrics exposes as apply lag and a stalled flag.
/// </summary>
internal sealed partial class FollowerMonitor(ConclaveNode node, FollowerProgress progress, ILogger<FollowerMonitor> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private bool reported;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var clock = node.Options.TimeProvider;
        using var timer = new PeriodicTimer(Interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SampleAsync(clock, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task SampleAsync(TimeProvider clock, CancellationToken cancellationToken)
    {
        if (node.Consensus.IsLeader || node.Consensus.IsLearner || node.Consensus.Status.LeaderId == 0)
        {
            progress.Reset();
            return;
        }

        try
        {
            using var timeoutTimer = new CancellationTokenSource(Interval, clock);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutTimer.Token);
            if (await node.Consensus.LeaderCommitIndexAsync(timeout.Token) is not { } commitIndex)
            {
                progress.Reset();
                return;
            }

            progress.Observe(clock.GetUtcNow(), commitIndex, node.Consensus.Status.AppliedIndex);
            if (progress.Stalled != reported)
            {
                reported = progress.Stalled;
                if (reported)
                {
                    LogStalled(logger, progress.Threshold.TotalSeconds, progress.Lag);
                }
                else
                {
                    LogRecovered(logger);
                }
            }
        }
        catch (Exception e) when (e is Cluster.Peers.PeerRequestException or OperationCanceledException or Cluster.ConsensusUnavailableException && !cancellationToken.IsCancellationRequested)
        {
            // The leader is changing or unreachable: no sample this time.
        }
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "This follower is stalled: it has not applied within {Seconds} s what the leader had committed; {Lag} entries behind")]
    private static partial void LogStalled(ILogger logger, double seconds, long lag);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "This follower caught up with the leader again")]
    private static partial void LogRecovered(ILogger logger);
}

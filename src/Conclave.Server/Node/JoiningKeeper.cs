using Conclave.Cluster;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Node;

/// <summary>
/// On the leader, keeps the member records true: a member that joined the configuration loses its joining record
/// (and a promoted learner its learner record); a recorded member this leader does not know as joining (it was added
/// under a leader that failed) is handed to the consensus layer again, which keeps adding it once it listens.
/// </summary>
internal sealed partial class JoiningKeeper(ConclaveNode node, ILogger<JoiningKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, node.Options.TimeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (node.Consensus.IsLeader)
                {
                    await KeepAsync(stoppingToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task KeepAsync(CancellationToken cancellationToken)
    {
        var records = MemberRecords.Joining.List(node.Store);
        var learners = MemberRecords.Learners.List(node.Store);
        if (records.Count == 0 && learners.Count == 0)
        {
            return;
        }

        try
        {
            var configuration = node.Consensus.Status.Members;
            foreach (var promoted in learners.Where(l => configuration.Any(m => m.Id == l.ID)))
            {
                // Promoted, but the promotion's caller gave up before it could delete the record.
                await MemberRecords.Learners.DeleteAsync(node, promoted.ID, cancellationToken);
            }

            foreach (var record in records)
            {
                if (configuration.Any(m => m.Id == record.ID))
                {
                    await MemberRecords.Joining.DeleteAsync(node, record.ID, cancellationToken);
                    continue;
                }

                try
                {
                    await node.Consensus.Membership.AddMemberAsync(record.PeerURLs[0], isLearner: false, cancellationToken);
                    LogResumed(logger, record.PeerURLs[0], record.ID);
                }
                catch (MembershipException e) when (e.Error == MembershipError.PeerUrlExists)
                {
                    // This leader is adding it already.
                }
            }
        }
        catch (Exception e) when (e is MembershipException or ConsensusUnavailableException or Api.Errors.ConclaveErrorException && !cancellationToken.IsCancellationRequested)
        {
            // Another change in progress, or leadership moved: the next round tries again.
        }
    }

    [LoggerMessage(EventId = 3210, Level = LogLevel.Information, Message = "Member {PeerUrl} (id {MemberId:x}) was added under an earlier leader and has not joined: adding it again")]
    private static partial void LogResumed(ILogger logger, string peerUrl, ulong memberId);
}

using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Cluster;
using Conclave.Storage;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Node;

/// <summary>
/// Raises this member's NOSPACE alarm through the log when a write would pass its quota and no NOSPACE alarm is active
/// yet (etcd's way: the member that finds no space proposes <c>Alarm ACTIVATE</c> naming itself).
/// The alarm is then state like any other, recorded exactly as the command says on every member, so every member
/// lists the same alarms and writes the same snapshot. Refusals that arrive while a raise is on its way share it.
/// </summary>
internal sealed partial class SpaceAlarm(ulong memberId, KeyValueStore store, IConsensus consensus, ILogger<SpaceAlarm> logger)
{
    private readonly Lock gate = new();
    private Task? raising;

    /// <summary>
    /// Completes once the alarm this member raised is applied here, or at once when a NOSPACE alarm is already active.
    /// Never throws for the raise itself (a failure is logged; the next write refused for space tries again), only for
    /// <paramref name="cancellationToken"/>.
    /// </summary>
    public Task RaiseAsync(CancellationToken cancellationToken)
    {
        if (store.Alarms.Any(static a => a.Alarm == AlarmType.Nospace))
        {
            return Task.CompletedTask;
        }

        Task shared;
        lock (gate)
        {
            if (raising is null || raising.IsCompleted)
            {
                raising = ProposeAsync();
            }

            shared = raising;
        }

        return shared.WaitAsync(cancellationToken);
    }

    private async Task ProposeAsync()
    {
        LogRaising(logger, memberId, store.SizeBytes, store.Limits.QuotaBytes);
        try
        {
            // Not the refused caller's token: callers share this proposal, and the alarm is wanted even if the first
            // of them has gone away.
            var result = await consensus.ProposeAsync(
                new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = memberId, Alarm = AlarmType.Nospace }, ByMember = true },
                consensus.Stopping);
            if (result is Exception rejected)
            {
                LogRaiseFailed(logger, rejected);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !consensus.Stopping.IsCancellationRequested)
        {
            LogRaiseFailed(logger, e);
        }
        catch (OperationCanceledException)
        {
            // The member is stopping.
        }
    }

    [LoggerMessage(EventId = 3340, Level = LogLevel.Warning,
        Message = "A write would pass the quota ({SizeBytes} of {QuotaBytes} bytes, --quota-backend-bytes): raising the NOSPACE alarm for member {MemberId:x}")]
    private static partial void LogRaising(ILogger logger, ulong memberId, long sizeBytes, long quotaBytes);

    [LoggerMessage(EventId = 3341, Level = LogLevel.Warning, Message = "Raising the NOSPACE alarm failed; the next write refused for space tries again")]
    private static partial void LogRaiseFailed(ILogger logger, Exception exception);
}

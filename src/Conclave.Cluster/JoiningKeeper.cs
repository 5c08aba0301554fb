using Conclave.Api.Errors;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// On the leader, keeps the member records true: a member that joined the configuration loses its joining record
/// (and a promoted learner its learner record); a recorded member this leader does not know as joining (it was added
/// under a leader that failed) is handed to the consensus layer again, which keeps adding it once it listens.
/// </summary>
/// <remarks>
/// Runs once for every leadership this member gains (after a read barrier, so the records the previous leader committed
/// are applied here; only this first round hands recorded members over), then again whenever the Raft configuration
/// changes or a record is written, until that leadership ends (<see cref="Leadership.Token"/>). A lose-and-regain is a new leadership and a new first round, never a missed
/// one. A round that fails (another change in progress, no quorum for a moment) is tried again after a second.
/// </remarks>
internal sealed partial class JoiningKeeper : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly IConsensus consensus;
    private readonly MemberRecords joining;
    private readonly MemberRecords learners;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stop;
    private readonly Task loop;
    private TaskCompletionSource written = NewSignal();
    private int disposed;

    public JoiningKeeper(IConsensus consensus, MemberRecords joining, MemberRecords learners, TimeProvider time, ILogger logger)
    {
        this.consensus = consensus;
        this.joining = joining;
        this.learners = learners;
        this.time = time;
        this.logger = logger;
        stop = CancellationTokenSource.CreateLinkedTokenSource(consensus.Stopping);
        loop = Task.Run(RunAsync);
    }

    /// <summary>A member record was written on this member: look at the records again.</summary>
    public void RecordWritten() => Interlocked.Exchange(ref written, NewSignal()).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stop.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        var token = stop.Token;
        while (!token.IsCancellationRequested)
        {
            Leadership leadership;
            try
            {
                leadership = await consensus.WaitForLeadershipAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using var lead = CancellationTokenSource.CreateLinkedTokenSource(token, leadership.Token);
            await KeepWhileLeadingAsync(lead.Token).ConfigureAwait(false);
        }
    }

    /// <summary>One round now, then one per configuration change or record written, until <paramref name="lead"/> ends.</summary>
    private async Task KeepWhileLeadingAsync(CancellationToken lead)
    {
        // Only the first round of a leadership hands recorded members over: later records are this leadership's own,
        // added here and held by the consensus layer already (re-adding one would race with its removal).
        var first = true;
        while (!lead.IsCancellationRequested)
        {
            // Read before looking, so a change during the round wakes the next one.
            var changed = consensus.Membership.ConfigurationChanged;
            var wrote = Volatile.Read(ref written).Task;
            bool kept;
            try
            {
                kept = await KeepAsync(first, lead).ConfigureAwait(false);
                first &= !kept;
            }
            catch (OperationCanceledException) when (lead.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever it was, the keeper must outlive it: the records would otherwise stay wrong until a restart.
                LogRoundCrashed(logger, e);
                kept = false;
            }

            var next = kept ? Task.WhenAny(changed, wrote) : Task.WhenAny(changed, wrote, Task.Delay(RetryDelay, time, lead));
            try
            {
                await next.WaitAsync(lead).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round; false when it should be tried again. With <paramref name="resume"/>, hands recorded members over.</summary>
    private async Task<bool> KeepAsync(bool resume, CancellationToken cancellationToken)
    {
        try
        {
            // A new leader may not have applied everything committed before it took office yet: the records the
            // previous leader wrote must be seen.
            await consensus.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
            var records = joining.List();
            var learnerRecords = learners.List();
            if (records.Count == 0 && learnerRecords.Count == 0)
            {
                return true;
            }

            var configuration = consensus.Status.Members;
            foreach (var promoted in learnerRecords.Where(l => configuration.Any(m => m.Id == l.ID)))
            {
                // Promoted, but the promotion's caller gave up before it could delete the record.
                await learners.DeleteAsync(promoted.ID, cancellationToken).ConfigureAwait(false);
            }

            foreach (var record in records)
            {
                if (configuration.Any(m => m.Id == record.ID))
                {
                    await joining.DeleteAsync(record.ID, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (!resume)
                {
                    continue;
                }

                try
                {
                    await consensus.Membership.AddMemberAsync(record.PeerURLs[0], isLearner: false, cancellationToken).ConfigureAwait(false);
                    LogResumed(logger, record.PeerURLs[0], record.ID);
                }
                catch (MembershipException e) when (e.Error == MembershipError.PeerUrlExists)
                {
                    // This leader is adding it already.
                }
            }

            return true;
        }
        catch (Exception e) when (e is MembershipException or ConsensusUnavailableException or ConclaveErrorException && !cancellationToken.IsCancellationRequested)
        {
            // Another change in progress, or no quorum for a moment: the next round tries again.
            LogRoundFailed(logger, e.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = 2130, Level = LogLevel.Information, Message = "Member {PeerUrl} (id {MemberId:x}) was added under an earlier leader and has not joined: adding it again")]
    private static partial void LogResumed(ILogger logger, string peerUrl, ulong memberId);

    [LoggerMessage(EventId = 2132, Level = LogLevel.Warning, Message = "Keeping the member records failed unexpectedly; trying again in a second")]
    private static partial void LogRoundCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2131, Level = LogLevel.Debug, Message = "Keeping the member records failed ({Reason}); trying again")]
    private static partial void LogRoundFailed(ILogger logger, string reason);
}

using Conclave.Cluster;
using Conclave.ConfigCenter;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Webhooks;
using Conclave.Server.Node;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Config;

/// <summary>
/// Webhook delivery on the leader (ADR 0016). For each leadership it runs two loops until that leadership ends: the
/// feed watches the center's audit from the replicated cursor and turns each change into deliveries (fenced by the
/// cursor, so the audit is read once, in log order, across restarts and failovers); the sender sends what is due, at
/// most <see cref="WebhookOptions.Parallelism"/> at once, and records each attempt (fenced by the delivery's revision).
/// A member that does not lead does nothing. A crash between a request and its record sends it again: at least once,
/// with the same event id.
/// </summary>
internal sealed partial class WebhookDispatcher(ConclaveNode node, IKeyValuePort port, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>A cursor further behind than this many revisions with nothing to deliver is moved up (history is compacted).</summary>
    private const long MaxCursorLag = 1000;

    private readonly WebhookOptions options = node.Options.Webhooks;
    private readonly TimeProvider clock = node.Options.TimeProvider;
    private readonly SemaphoreSlim wake = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var sender = new WebhookSender(options, clock);
        var dispatch = new WebhookDispatch(port, options.Retry, clock);
        while (!stoppingToken.IsCancellationRequested)
        {
            // Woken when this member becomes the leader (no polling): a follower's dispatcher costs nothing.
            Leadership leadership;
            try
            {
                leadership = await node.Consensus.WaitForLeadershipAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using var lead = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, leadership.Token);
            LogLeading(logger, leadership.Term);
            var feed = RunFeedAsync(dispatch, lead.Token);
            var send = RunSenderAsync(dispatch, sender, lead.Token);
            var first = await Task.WhenAny(feed, send);
            await lead.CancelAsync();
            try
            {
                await Task.WhenAll(feed, send);
            }
            catch (Exception)
            {
                // Leadership ended, the member stops, or one loop failed (reported below); the other was stopped with it.
            }

            if (first.Exception?.InnerException is { } failure && failure is not OperationCanceledException && !stoppingToken.IsCancellationRequested)
            {
                // A failure (no quorum for a moment, a full disk): start both loops again from the replicated state.
                LogFailed(logger, failure.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RunFeedAsync(WebhookDispatch dispatch, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var cursor = await dispatch.ReadCursorAsync(cancellationToken);
                if (cursor.ModRevision == 0)
                {
                    cursor = await dispatch.AdvanceAsync(cursor, cursor.Revision, cancellationToken);
                }

                await foreach (var change in port.WatchAsync(ConfigKeys.AllAudits(), cursor.Revision + 1, cancellationToken))
                {
                    var (next, created) = await dispatch.ApplyAsync(cursor, change, cancellationToken);
                    if (created > 0)
                    {
                        Wake();
                    }
                    else if (change.Revision - next.Revision > MaxCursorLag)
                    {
                        next = await dispatch.AdvanceAsync(next, change.Revision, cancellationToken);
                    }

                    cursor = next;
                }
            }
            catch (WebhookCursorMovedException)
            {
                LogCursorMoved(logger);
            }
            catch (KeyspaceCompactedException e)
            {
                // Far behind (the audit's history is kept for a bounded number of revisions): events in the gap are lost; say so.
                LogCompacted(logger, e.Message);
                var cursor = await dispatch.ReadCursorAsync(cancellationToken);
                var now = (await port.RangeAsync(new Api.Etcd.RangeRequest { Key = ConfigKeys.WebhookCursor() }, cancellationToken)).Header.Revision;
                await dispatch.AdvanceAsync(cursor, now, cancellationToken);
            }
        }
    }

    private async Task RunSenderAsync(WebhookDispatch dispatch, WebhookSender sender, CancellationToken cancellationToken)
    {
        using var slots = new SemaphoreSlim(Math.Max(1, options.Parallelism));
        var running = new List<Task>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            running.Clear();
            var due = await dispatch.DueAsync(clock.GetUtcNow(), 64, cancellationToken);
            foreach (var (app, id, eventId) in due)
            {
                await slots.WaitAsync(cancellationToken);
                running.Add(SendOneAsync(dispatch, sender, app, id, eventId, slots, cancellationToken));
            }

            // Wait for the sends of this round, so one delivery is never attempted twice at once.
            await Task.WhenAll(running);
            using var poll = new CancellationTokenSource(options.PollInterval, clock);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
            try
            {
                await wake.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Poll interval passed.
            }
        }
    }

    private async Task SendOneAsync(WebhookDispatch dispatch, WebhookSender sender, string app, string id, string eventId, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        try
        {
            if (await dispatch.ClaimAsync(app, id, eventId, cancellationToken) is not { } claimed)
            {
                return;
            }

            WebhookAttempt attempt;
            try
            {
                var secret = await WebhookService.SecretAsync(claimed.Hook, node.Options.ConfigMasterKeys, cancellationToken);
                attempt = await sender.SendAsync(claimed.Hook, claimed.Delivery, secret, cancellationToken);
            }
            catch (ConfigCenterException e)
            {
                attempt = new WebhookAttempt(null, e.Message);
            }

            var (recorded, next) = await dispatch.RecordAsync(claimed.Delivery, claimed.Revision, attempt, cancellationToken);
            if (recorded && !attempt.Succeeded)
            {
                LogAttemptFailed(logger, app, id, eventId, next.Attempts, attempt.Error ?? "", next.State.ToString());
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(logger, e.Message);
        }
        finally
        {
            slots.Release();
        }
    }

    private void Wake()
    {
        try
        {
            wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "webhooks: this member leads (term {Term}) and dispatches webhook deliveries")]
    private static partial void LogLeading(ILogger logger, long term);

    [LoggerMessage(EventId = 3501, Level = LogLevel.Warning, Message = "webhooks: dispatch failed ({Reason}); trying again")]
    private static partial void LogFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Information, Message = "webhooks: the cursor was advanced by another dispatcher; reading it again")]
    private static partial void LogCursorMoved(ILogger logger);

    [LoggerMessage(EventId = 3503, Level = LogLevel.Warning, Message = "webhooks: the audit history after the cursor was compacted ({Reason}); events in that gap are not delivered")]
    private static partial void LogCompacted(ILogger logger, string reason);

    [LoggerMessage(EventId = 3504, Level = LogLevel.Information, Message = "webhooks: {App}/{Webhook} {EventId} attempt {Attempt} failed: {Error} (now {State})")]
    private static partial void LogAttemptFailed(ILogger logger, string app, string webhook, string eventId, int attempt, string error, string state);
}

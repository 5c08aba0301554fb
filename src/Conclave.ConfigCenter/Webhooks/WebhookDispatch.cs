using System.Globalization;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// The keyspace side of webhook delivery (ADR 0016), driven by the leader: turns audit entries into deliveries (each
/// change of the audit seen once, in log order, from a replicated cursor advanced in the same transaction as the
/// deliveries it created), lists what is due, and records what an attempt found. Every write is fenced (the cursor's
/// or the delivery's revision), so a member that lost the lead and has not noticed yet cannot duplicate or overwrite.
/// </summary>
public sealed class WebhookDispatch(IKeyValuePort port, WebhookRetry? retry = null, TimeProvider? clock = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly WebhookService service = new(port, clock: clock);

    public WebhookRetry Retry { get; } = retry ?? new WebhookRetry();

    public async ValueTask<WebhookCursor> ReadCursorAsync(CancellationToken cancellationToken)
    {
        var response = await port.RangeAsync(new RangeRequest { Key = ConfigKeys.WebhookCursor() }, cancellationToken);
        if (response.Kvs.FirstOrDefault() is { } kv)
        {
            return new WebhookCursor(long.Parse(kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture), kv.ModRevision);
        }

        // First start: from the oldest webhook's creation, or from now when there is none. Webhooks read in the same range
        // as the revision: one created later has a creation revision above it, so none of its events is skipped (a
        // webhook created in the moment before the first leader's dispatcher started lost its first events before).
        var prefix = ConfigKeys.AllWebhooks();
        var hooks = await port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), KeysOnly = true }, cancellationToken);
        var from = hooks.Kvs.Count == 0 ? hooks.Header.Revision : hooks.Kvs.Min(kv => kv.CreateRevision);
        return new WebhookCursor(from, 0);
    }

    /// <summary>Moves the cursor to <paramref name="revision"/> without deliveries (past changes no webhook receives).</summary>
    public async ValueTask<WebhookCursor> AdvanceAsync(WebhookCursor cursor, long revision, CancellationToken cancellationToken)
    {
        var (ok, written) = await store.CommitAsync([Fence(cursor)], [CursorPut(revision)], cancellationToken);
        return ok ? new WebhookCursor(revision, written) : throw new WebhookCursorMovedException();
    }

    /// <summary>
    /// The deliveries one change of the audit makes; written with the cursor moved to its revision. Returns the cursor
    /// after it and how many deliveries were created (0: nothing written, the cursor stays where it was).
    /// </summary>
    public async ValueTask<(WebhookCursor Cursor, int Created)> ApplyAsync(WebhookCursor cursor, KeyspaceChange change, CancellationToken cancellationToken)
    {
        if (change.Revision <= cursor.Revision)
        {
            return (cursor, 0);
        }

        var hooks = new Dictionary<string, List<Webhook>>(StringComparer.Ordinal);
        var deliveries = new List<WebhookDelivery>();
        var now = clock.GetUtcNow();
        var root = ConfigKeys.AllAudits().ToStringUtf8();
        for (var i = 0; i < change.Events.Count; i++)
        {
            var ev = change.Events[i];
            if (ev.Type != Event.Types.EventType.Put)
            {
                continue;
            }

            var app = ev.Kv.Key.ToStringUtf8()[root.Length..].Split('/')[0];
            AuditEntry entry;
            try
            {
                entry = ConfigJson.Decode<AuditEntry>(ev.Kv.Value);
            }
            catch (System.Text.Json.JsonException)
            {
                continue;
            }

            if (!hooks.TryGetValue(app, out var ofApp))
            {
                ofApp = [.. (await store.ListAsync<Webhook>(ConfigKeys.Webhooks(app), cancellationToken)).Select(x => x.Value with { CreateRevision = x.Kv.CreateRevision })];
                hooks[app] = ofApp;
            }

            var e = WebhookEvents.Of(app, entry, change.Revision, i);
            var receivers = ofApp.Where(h => WebhookEvents.Receives(h, e, change.Revision)).ToList();
            if (receivers.Count == 0)
            {
                continue;
            }

            e = await WithReleasesAsync(e, cancellationToken);
            deliveries.AddRange(receivers.Select(h => WebhookService.NewDelivery(h, e, now)));
        }

        if (deliveries.Count == 0)
        {
            return (cursor, 0);
        }

        var writes = new List<RequestOp>();
        foreach (var group in deliveries.GroupBy(d => (d.App, d.WebhookId)))
        {
            writes.AddRange(await service.PruneAsync(group.Key.App, group.Key.WebhookId, group.Count(), cancellationToken));
        }

        writes.AddRange(deliveries.SelectMany(WebhookService.Enqueue));
        writes.Add(CursorPut(change.Revision));
        var (ok, written) = await store.CommitAsync([Fence(cursor)], writes, cancellationToken);
        return ok ? (new WebhookCursor(change.Revision, written), deliveries.Count) : throw new WebhookCursorMovedException();
    }

    /// <summary>The pending deliveries due at <paramref name="now"/>, earliest first, at most <paramref name="limit"/>.</summary>
    public async ValueTask<IReadOnlyList<(string App, string WebhookId, string EventId)>> DueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        var prefix = ConfigKeys.AllWebhookPending();
        var root = prefix.ToStringUtf8();
        var response = await port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix) }, cancellationToken);
        return [.. response.Kvs
            .Select(kv => (Parts: kv.Key.ToStringUtf8()[root.Length..].Split('/'), Due: long.TryParse(kv.Value.ToStringUtf8(), CultureInfo.InvariantCulture, out var t) ? t : 0))
            .Where(x => x.Parts.Length == 3 && x.Due <= now.UtcTicks)
            .OrderBy(x => x.Due)
            .Take(limit)
            .Select(x => (x.Parts[0], x.Parts[1], x.Parts[2]))];
    }

    /// <summary>
    /// A due delivery with its webhook, or null when there is nothing to send (delivered meanwhile, not due yet, or its
    /// webhook is gone: then its marker is removed).
    /// </summary>
    public async ValueTask<(WebhookDelivery Delivery, long Revision, Webhook Hook)?> ClaimAsync(string app, string id, string eventId, CancellationToken cancellationToken)
    {
        var (delivery, revision, _) = await store.GetAsync<WebhookDelivery>(ConfigKeys.WebhookDelivery(app, id, eventId), cancellationToken);
        var (hook, _, _) = await store.GetAsync<Webhook>(ConfigKeys.Webhook(app, id), cancellationToken);
        if (delivery is null || hook is null || delivery.State != WebhookDeliveryState.Pending)
        {
            await store.CommitAsync([], [ConfigStore.Delete(ConfigKeys.WebhookPending(app, id, eventId))], cancellationToken);
            return null;
        }

        return delivery.NextAttemptAt > clock.GetUtcNow() ? null : (delivery, revision, hook);
    }

    /// <summary>
    /// Records an attempt: delivered, due again after the back-off, or failed after the last attempt. False when the
    /// delivery changed since it was claimed (a redelivery, a deletion, another leader's attempt): nothing is written.
    /// </summary>
    public async ValueTask<(bool Recorded, WebhookDelivery Next)> RecordAsync(WebhookDelivery delivery, long revision, WebhookAttempt attempt, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var attempts = delivery.Attempts + 1;
        var next = delivery with { Attempts = attempts, LastAttemptAt = now, LastStatus = attempt.Status, LastError = attempt.Succeeded ? null : Bounded(attempt.Error) };
        var key = ConfigKeys.WebhookDelivery(delivery.App, delivery.WebhookId, delivery.EventId);
        var pending = ConfigKeys.WebhookPending(delivery.App, delivery.WebhookId, delivery.EventId);
        List<RequestOp> writes;
        if (attempt.Succeeded || attempts >= Retry.MaxAttempts)
        {
            next = next with { State = attempt.Succeeded ? WebhookDeliveryState.Delivered : WebhookDeliveryState.Failed, DeliveredAt = attempt.Succeeded ? now : null };
            writes = [ConfigStore.Put(key, next), ConfigStore.Delete(pending)];
        }
        else
        {
            next = next with { NextAttemptAt = now + Retry.DelayAfter(attempts) };
            writes = [.. WebhookService.Enqueue(next)];
        }

        var (ok, _) = await store.CommitAsync([ConfigStore.ModifiedAt(key, revision)], writes, cancellationToken);
        return (ok, next);
    }

    /// <summary>The namespace's main and gray release as they were right after the change (a read at its revision).</summary>
    private async ValueTask<WebhookEvent> WithReleasesAsync(WebhookEvent e, CancellationToken cancellationToken)
    {
        if (e.Env is null || e.Namespace is null)
        {
            return e;
        }

        try
        {
            var response = await port.RangeAsync(new RangeRequest { Key = ConfigKeys.Namespace(e.App, e.Env, e.Namespace), Revision = e.Revision }, cancellationToken);
            if (response.Kvs.FirstOrDefault() is not { } kv)
            {
                return e;
            }

            var n = ConfigJson.Decode<NamespaceRecord>(kv.Value);
            return e with { ReleaseId = n.HeadReleaseId > 0 ? n.HeadReleaseId : null, GrayReleaseId = n.Gray?.ReleaseId };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A compacted revision (the dispatcher was far behind): the event goes out without release ids rather than not at all.
            return e;
        }
    }

    private static string? Bounded(string? text) => text is { Length: > 500 } ? text[..500] : text;

    private static Compare Fence(WebhookCursor cursor) => cursor.ModRevision == 0
        ? ConfigStore.Absent(ConfigKeys.WebhookCursor())
        : ConfigStore.ModifiedAt(ConfigKeys.WebhookCursor(), cursor.ModRevision);

    private static RequestOp CursorPut(long revision) =>
        new() { RequestPut = new PutRequest { Key = ConfigKeys.WebhookCursor(), Value = ByteString.CopyFromUtf8(revision.ToString(CultureInfo.InvariantCulture)) } };
}

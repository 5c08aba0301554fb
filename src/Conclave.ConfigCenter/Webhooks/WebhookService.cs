using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Webhooks;

/// <summary>
/// Webhooks of an app (ADR 0016): created, listed, deleted, pinged and redelivered by the app's managers (owner, admins,
/// root; anyone while auth is disabled), each change one transaction with its audit entry. The secret is returned by
/// <see cref="CreateAsync"/> only; views and the audit never carry it.
/// </summary>
public sealed class WebhookService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null, IMasterKeyProvider? masterKeys = null)
{
    /// <summary>Webhooks per app.</summary>
    public const int MaxPerApp = 20;

    /// <summary>Deliveries kept per webhook (the log); older ones are dropped as new ones come.</summary>
    public const int MaxDeliveriesKept = 100;

    public const int MaxUrlLength = 2048;

    private const int MaxDescriptionLength = 200;

    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ConfigAccess access = new(port, limits, clock);

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    /// <summary>Creates a webhook and returns it with its signing secret, which is never shown again.</summary>
    public async ValueTask<IssuedWebhook> CreateAsync(
        string app, string url, string? env, string? ns, IReadOnlyList<string>? events, string? description, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var uri = CheckUrl(url);
        if (env is { Length: > 0 })
        {
            ConfigNames.CheckName("environment", env, Limits);
        }

        if (ns is { Length: > 0 })
        {
            ConfigNames.CheckName("namespace", ns, Limits);
        }

        if (description is { Length: > MaxDescriptionLength } || (description ?? "").Any(char.IsControl))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a webhook's description is at most {MaxDescriptionLength} characters without control characters");
        }

        var filters = WebhookEvents.CheckFilters(events);
        var pins = await RequireManagerAsync(who, app, cancellationToken);
        var prefix = ConfigKeys.Webhooks(app);
        var existing = await port.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), CountOnly = true }, cancellationToken);
        if (existing.Count >= MaxPerApp)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"app '{app}' already has {existing.Count} webhooks; the limit is {MaxPerApp}");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = "whsec_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        string? plain = secret, wrapped = null, keyId = null;
        if (masterKeys is not null)
        {
            wrapped = Convert.ToBase64String(await masterKeys.WrapAsync(Encoding.UTF8.GetBytes(secret), AssociatedData(app, id), cancellationToken));
            keyId = masterKeys.CurrentKeyId;
            plain = null;
        }

        var now = clock.GetUtcNow();
        var hook = new Webhook
        {
            App = app, Id = id, Url = uri.AbsoluteUri, Env = env is { Length: > 0 } ? env : null, Namespace = ns is { Length: > 0 } ? ns : null,
            Events = filters, Description = description ?? "", Secret = plain, WrappedSecret = wrapped, MasterKeyId = keyId,
            Hint = secret[^4..], CreatedAt = now, CreatedBy = who.Author,
        };

        var unchanged = new Compare
        {
            Key = prefix, RangeEnd = ConfigKeys.PrefixEnd(prefix), Target = Compare.Types.CompareTarget.Mod,
            Result = Compare.Types.CompareResult.Less, ModRevision = existing.Header.Revision + 1,
        };
        var scope = $"{Redacted(uri)} env={hook.Env ?? "*"} ns={hook.Namespace ?? "*"} events={string.Join(",", WebhookView.Of(hook).Events)}";
        var (ok, _) = await store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.App(app)), unchanged],
            [ConfigStore.Put(ConfigKeys.Webhook(app, id), hook), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "webhook.create", $"{app}/webhooks/{id}", scope))],
            cancellationToken);
        if (!ok)
        {
            await store.ThrowMissingAsync(app, null, null, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.Conflict, $"the webhooks of app '{app}' changed while this one was created: try again");
        }

        return new IssuedWebhook(WebhookView.Of(hook), secret);
    }

    /// <summary>The webhooks of an app, oldest first.</summary>
    public async ValueTask<IReadOnlyList<WebhookView>> ListAsync(string app, ChangeContext who, CancellationToken cancellationToken = default)
    {
        await RequireManagerAsync(who, app, cancellationToken);
        await store.ThrowMissingAsync(app, null, null, cancellationToken);
        return [.. (await store.ListAsync<Webhook>(ConfigKeys.Webhooks(app), cancellationToken)).Select(x => x.Value).OrderBy(w => w.CreatedAt).Select(WebhookView.Of)];
    }

    public async ValueTask<WebhookView> GetAsync(string app, string id, ChangeContext who, CancellationToken cancellationToken = default)
    {
        await RequireManagerAsync(who, app, cancellationToken);
        return WebhookView.Of((await FindAsync(app, id, cancellationToken)).Hook);
    }

    /// <summary>Deletes a webhook with its delivery log; deliveries not yet sent are not sent.</summary>
    public async ValueTask DeleteAsync(string app, string id, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var pins = await RequireManagerAsync(who, app, cancellationToken);
        var (hook, _) = await FindAsync(app, id, cancellationToken);
        await store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.Webhook(app, id))],
            [
                ConfigStore.Delete(ConfigKeys.Webhook(app, id)), ConfigStore.DeleteUnder(ConfigKeys.WebhookDeliveries(app, id)), ConfigStore.DeleteUnder(ConfigKeys.WebhookPendings(app, id)),
                ConfigStore.Audit(app, ConfigCenterService.Audit(who, clock.GetUtcNow(), "webhook.delete", $"{app}/webhooks/{id}", Redacted(new Uri(hook.Url)))),
            ],
            cancellationToken);
    }

    /// <summary>The delivery log of a webhook, newest first (at most <see cref="MaxDeliveriesKept"/>).</summary>
    public async ValueTask<IReadOnlyList<WebhookDelivery>> DeliveriesAsync(string app, string id, int limit, ChangeContext who, CancellationToken cancellationToken = default)
    {
        await RequireManagerAsync(who, app, cancellationToken);
        await FindAsync(app, id, cancellationToken);
        var all = await store.ListAsync<WebhookDelivery>(ConfigKeys.WebhookDeliveries(app, id), cancellationToken);
        return [.. all.Select(x => x.Value).OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.EventId, StringComparer.Ordinal).Take(Math.Clamp(limit, 1, MaxDeliveriesKept))];
    }

    /// <summary>Queues a <c>ping</c> event for the webhook (sent by the leader like any other delivery).</summary>
    public async ValueTask<WebhookDelivery> PingAsync(string app, string id, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var pins = await RequireManagerAsync(who, app, cancellationToken);
        var (hook, _) = await FindAsync(app, id, cancellationToken);
        var now = clock.GetUtcNow();
        var e = new WebhookEvent
        {
            Id = $"ping-{now.UtcTicks.ToString("D19", CultureInfo.InvariantCulture)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}",
            Type = "ping", App = app, Target = $"{app}/webhooks/{id}", Actor = who.Author, At = now, Detail = "a test event", RequestId = who.RequestId,
        };
        var delivery = NewDelivery(hook, e, now);
        var writes = new List<RequestOp>(Enqueue(delivery))
        {
            ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "webhook.ping", $"{app}/webhooks/{id}", e.Id)),
        };
        writes.AddRange(await PruneAsync(app, id, 1, cancellationToken));
        var (ok, _) = await store.CommitAsync([.. pins, ConfigStore.Present(ConfigKeys.Webhook(app, id))], writes, cancellationToken);
        return ok ? delivery : throw new ConfigCenterException(ConfigErrorKind.NotFound, $"webhook '{id}' of app '{app}' was deleted meanwhile");
    }

    /// <summary>Sends a delivery again from its first attempt (same body, same event id).</summary>
    public async ValueTask<WebhookDelivery> RedeliverAsync(string app, string id, string eventId, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var pins = await RequireManagerAsync(who, app, cancellationToken);
        await FindAsync(app, id, cancellationToken);
        if (eventId.Length is 0 or > 64 || eventId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"'{eventId}' is not an event id");
        }

        var key = ConfigKeys.WebhookDelivery(app, id, eventId);
        var (delivery, revision, _) = await store.GetAsync<WebhookDelivery>(key, cancellationToken);
        if (delivery is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"webhook '{id}' of app '{app}' has no delivery '{eventId}' (the log keeps the last {MaxDeliveriesKept})");
        }

        var now = clock.GetUtcNow();
        var next = delivery with { State = WebhookDeliveryState.Pending, Attempts = 0, NextAttemptAt = now, LastError = null };
        var (ok, _) = await store.CommitAsync(
            [.. pins, ConfigStore.ModifiedAt(key, revision)],
            [.. Enqueue(next), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "webhook.redeliver", $"{app}/webhooks/{id}", eventId))],
            cancellationToken);
        return ok ? next : throw new ConfigCenterException(ConfigErrorKind.Conflict, $"delivery '{eventId}' changed meanwhile (an attempt was recorded): try again");
    }

    /// <summary>The signing secret (for the leader's sender): unwrapped under the master key it was wrapped with.</summary>
    public static async ValueTask<byte[]> SecretAsync(Webhook hook, IMasterKeyProvider? masterKeys, CancellationToken cancellationToken)
    {
        if (hook.Secret is { } plain)
        {
            return Encoding.UTF8.GetBytes(plain);
        }

        if (masterKeys is null || hook.WrappedSecret is null || hook.MasterKeyId is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.SecretUnavailable, $"the secret of webhook '{hook.Id}' is wrapped under master key {hook.MasterKeyId}, which this member does not hold");
        }

        return await masterKeys.UnwrapAsync(hook.MasterKeyId, Convert.FromBase64String(hook.WrappedSecret), AssociatedData(hook.App, hook.Id), cancellationToken);
    }

    /// <summary>
    /// Re-wraps, under the current master key, every webhook signing secret wrapped under another one (part of
    /// <c>conclave config keys rotate</c>, as the namespaces' data keys are): each record in its own transaction guarded by
    /// its revision, with an audit entry of its app. The secret itself does not change, so receivers keep verifying with
    /// the one shown at creation. Secrets kept as they are (made on a member without a master key) stay so.
    /// </summary>
    /// <returns>How many were re-wrapped, how many were already under the current key, and those that could not be opened.</returns>
    internal static async ValueTask<(int Rewrapped, int AlreadyCurrent, List<string> Failed)> RewrapSecretsAsync(
        ConfigStore store, IMasterKeyProvider masterKeys, ChangeContext who, TimeProvider clock, CancellationToken cancellationToken)
    {
        var current = masterKeys.CurrentKeyId;
        return await RecordRewrap.AllAsync<Webhook>(
            store, ConfigKeys.AllWebhooks(), hook => hook.WrappedSecret is null || hook.MasterKeyId is null ? null : hook.MasterKeyId == current,
            async hook =>
            {
                var aad = AssociatedData(hook.App, hook.Id);
                var plain = await masterKeys.UnwrapAsync(hook.MasterKeyId!, Convert.FromBase64String(hook.WrappedSecret!), aad, cancellationToken);
                try
                {
                    return hook with { WrappedSecret = Convert.ToBase64String(await masterKeys.WrapAsync(plain, aad, cancellationToken)), MasterKeyId = current };
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(plain);
                }
            },
            hook => ($"{hook.App}/webhooks/{hook.Id}", hook.App),
            $"webhook secret re-wrapped under master key {current}", who, clock, cancellationToken);
    }

    /// <summary>A new pending delivery of <paramref name="e"/> to <paramref name="hook"/>, due now.</summary>
    public static WebhookDelivery NewDelivery(Webhook hook, WebhookEvent e, DateTimeOffset now) => new()
    {
        App = hook.App, WebhookId = hook.Id, EventId = e.Id, EventType = e.Type, Payload = Encoding.UTF8.GetString(ConfigJson.Encode(e).Span),
        CreatedAt = now, NextAttemptAt = now,
    };

    /// <summary>The writes of a delivery that waits for an attempt: its record and its pending marker.</summary>
    public static RequestOp[] Enqueue(WebhookDelivery d) =>
    [
        ConfigStore.Put(ConfigKeys.WebhookDelivery(d.App, d.WebhookId, d.EventId), d),
        new() { RequestPut = new PutRequest { Key = ConfigKeys.WebhookPending(d.App, d.WebhookId, d.EventId), Value = ByteString.CopyFromUtf8(d.NextAttemptAt.UtcTicks.ToString(CultureInfo.InvariantCulture)) } },
    ];

    /// <summary>
    /// The deletes that keep the log of a webhook at <see cref="MaxDeliveriesKept"/> once <paramref name="adding"/> more
    /// arrive: finished deliveries go first, oldest first; pending ones only when nothing else is left (a dead endpoint
    /// and a burst of events), so memory and the keyspace stay bounded whatever the endpoint does.
    /// </summary>
    public async ValueTask<List<RequestOp>> PruneAsync(string app, string id, int adding, CancellationToken cancellationToken)
    {
        var all = await store.ListAsync<WebhookDelivery>(ConfigKeys.WebhookDeliveries(app, id), cancellationToken);
        var excess = all.Count + adding - MaxDeliveriesKept;
        if (excess <= 0)
        {
            return [];
        }

        return [.. all.Select(x => x.Value)
            .OrderBy(d => d.State == WebhookDeliveryState.Pending ? 1 : 0).ThenBy(d => d.CreatedAt)
            .Take(excess)
            .SelectMany(d => new[] { ConfigStore.Delete(ConfigKeys.WebhookDelivery(app, id, d.EventId)), ConfigStore.Delete(ConfigKeys.WebhookPending(app, id, d.EventId)) })];
    }

    /// <summary>
    /// The deletes of every webhook of <paramref name="app"/> with its log, for the app's deletion: a later app of the same
    /// name must not inherit webhooks someone else subscribed.
    /// </summary>
    public static RequestOp[] DeleteAll(string app) =>
        [ConfigStore.DeleteUnder(ConfigKeys.Webhooks(app)), .. ConfigKeys.AppWebhookRecords(app).Select(ConfigStore.DeleteUnder)];

    /// <summary>
    /// The URL as the audit shows it: scheme and host only. Many receivers put a secret in the path or query (chat
    /// incoming-webhook URLs do), and the audit is readable by more people than the app's managers.
    /// </summary>
    public static string Redacted(Uri uri) => uri.PathAndQuery is "/" or "" ? uri.GetLeftPart(UriPartial.Authority) : uri.GetLeftPart(UriPartial.Authority) + "/...";

    private static byte[] AssociatedData(string app, string id) => Encoding.UTF8.GetBytes($"webhook:{app}/{id}");

    private async ValueTask<Compare[]> RequireManagerAsync(ChangeContext who, string app, CancellationToken cancellationToken)
    {
        ConfigNames.CheckName("app", app, Limits);
        return await access.RequireManagerAsync(who, app, "manage the webhooks", cancellationToken);
    }

    private async ValueTask<(Webhook Hook, long Revision)> FindAsync(string app, string id, CancellationToken cancellationToken)
    {
        if (id.Length is 0 or > 32 || !id.All(char.IsAsciiLetterOrDigit))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"'{id}' is not a webhook id");
        }

        var (hook, revision, _) = await store.GetAsync<Webhook>(ConfigKeys.Webhook(app, id), cancellationToken);
        if (hook is null)
        {
            await store.ThrowMissingAsync(app, null, null, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"webhook '{id}' of app '{app}' does not exist");
        }

        return (hook, revision);
    }

    /// <summary>
    /// An absolute http(s) URL without user information (it would be shown in every view) or a fragment. Where it points
    /// is checked again when each request connects (the member's private-target option): a name can resolve elsewhere later.
    /// </summary>
    public static Uri CheckUrl(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the webhook URL must be an absolute http:// or https:// URL of at most {MaxUrlLength} characters");
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the webhook URL's scheme '{uri.Scheme}' is refused: only http and https");
        }

        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "the webhook URL may not carry user information or a fragment: authenticate the sender by the signature header");
        }

        return uri;
    }
}

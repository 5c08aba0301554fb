using System.Security.Cryptography;
using System.Text;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Conclave.ConfigCenter.Validation;
using Google.Protobuf;

namespace Conclave.ConfigCenter;

/// <summary>
/// The administrative side of the center: apps, environments, namespaces, the working copy, releases, rollback,
/// gray release and history. Every change is one guarded transaction that also writes its audit entry, so a
/// refused or failed change writes nothing.
/// </summary>
public sealed partial class ConfigCenterService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null, IMasterKeyProvider? masterKeys = null)
{
    // Each failed round means another edit landed, so this bounds the editors racing on one namespace, not the time.
    // Changes made through this member queue at the namespace's gate first, so only other members' changes race.
    private const int MaxRetries = 32;

    private readonly NamespaceGates gates = new();

    /// <summary>Namespace gates held or waited for now (none once every change has returned).</summary>
    public int GateCount => gates.Count;

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    public ConfigStore Store { get; } = new(port);

    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    /// <summary>Who may change what (ADR 0015); every change below asks it first and pins its answer in the change's transaction.</summary>
    public ConfigAccess Access { get; } = new(port, limits, clock);

    /// <summary>Sealing, opening and masking of secret values (ADR 0015, decision 6).</summary>
    public NamespaceSecrets Secrets { get; } = new(new ConfigStore(port), masterKeys, clock);

    // ---- apps and environments ----

    public async ValueTask<AppRecord> CreateAppAsync(string id, string? name, string? owner, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("app", id, Limits);
        CheckAuthor(who);
        var pins = await Access.RequireCreatorAsync(who, id, cancellationToken);
        var now = clock.GetUtcNow();
        var appOwner = string.IsNullOrWhiteSpace(owner) ? who.Author : owner;
        var app = new AppRecord { Id = id, Name = string.IsNullOrWhiteSpace(name) ? id : name, Owner = appOwner, CreatedAt = now, CreatedBy = who.Author };
        var key = ConfigKeys.App(id);
        List<RequestOp> writes = [ConfigStore.Put(key, app), ConfigStore.Audit(id, Audit(who, now, "app.create", id, appOwner == who.Author ? "" : $"owner {appOwner}"))];
        if (appOwner != who.Author)
        {
            // The creator keeps a hand on what they created for someone else.
            writes.Add(ConfigStore.Put(ConfigKeys.Access(id), ConfigAccess.Initial(id, appOwner, who)));
        }

        var (ok, _) = await Store.CommitAsync([.. pins, ConfigStore.Absent(key), ConfigStore.Absent(ConfigKeys.Access(id))], writes, cancellationToken);
        if (ok)
        {
            return app;
        }

        if ((await Store.GetAsync<AppRecord>(key, cancellationToken)).Value is not null)
        {
            throw new ConfigCenterException(ConfigErrorKind.AlreadyExists, $"app '{id}' already exists");
        }

        // The settings changed under the decision, or an access record survived a deleted app of the same name: decide again.
        await Store.CommitAsync([ConfigStore.Absent(key)], [ConfigStore.Delete(ConfigKeys.Access(id))], cancellationToken);
        return await CreateAppAsync(id, name, owner, who, cancellationToken);
    }

    public async ValueTask<AppRecord> GetAppAsync(string id, CancellationToken cancellationToken = default) =>
        (await Store.GetAsync<AppRecord>(ConfigKeys.App(id), cancellationToken)).Value
        ?? throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{id}' does not exist");

    public async ValueTask<IReadOnlyList<AppRecord>> ListAppsAsync(CancellationToken cancellationToken = default) =>
        (await Store.ListAsync<AppRecord>(ConfigKeys.Apps(), cancellationToken)).Select(x => x.Value).ToList();

    /// <summary>Most apps in one page of <see cref="ListAppsAsync(int, string?, string?, CancellationToken)"/>.</summary>
    public const int MaxAppPage = 1000;

    /// <summary>
    /// At most <paramref name="limit"/> apps in id order, after the id <paramref name="after"/> (exclusive) and whose
    /// ids start with <paramref name="prefix"/>: one range read of that many keys, whatever the number of apps.
    /// </summary>
    public async ValueTask<AppPage> ListAppsAsync(int limit, string? after, string? prefix, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > MaxAppPage)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"limit must be between 1 and {MaxAppPage}, not {limit}");
        }

        var start = ByteString.CopyFrom([.. ConfigKeys.Apps().Span, .. System.Text.Encoding.UTF8.GetBytes(prefix ?? "")]);
        var end = ConfigKeys.PrefixEnd(start);
        if (!string.IsNullOrEmpty(after))
        {
            // The first key after the app 'after': its key followed by a zero byte.
            var next = ByteString.CopyFrom([.. ConfigKeys.App(after).Span, 0]);
            if (next.Span.SequenceCompareTo(start.Span) > 0)
            {
                start = next;
            }
        }

        var response = await Store.Port.RangeAsync(new RangeRequest { Key = start, RangeEnd = end, Limit = limit }, cancellationToken);
        var items = response.Kvs.Select(kv => ConfigJson.Decode<AppRecord>(kv.Value)).ToList();
        return new AppPage(items, response.More && items.Count > 0 ? items[^1].Id : null);
    }

    public async ValueTask<EnvironmentRecord> CreateEnvironmentAsync(string app, string env, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("app", app, Limits);
        ConfigNames.CheckName("environment", env, Limits);
        CheckAuthor(who);
        var pins = await Access.RequireManagerAsync(who, app, "create environments", cancellationToken);
        var now = clock.GetUtcNow();
        var record = new EnvironmentRecord { App = app, Name = env, CreatedAt = now, CreatedBy = who.Author };
        var key = ConfigKeys.Environment(app, env);
        var (ok, _) = await Store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.App(app)), ConfigStore.Absent(key)],
            [ConfigStore.Put(key, record), ConfigStore.Audit(app, Audit(who, now, "env.create", $"{app}/{env}"))],
            cancellationToken);
        if (ok)
        {
            return record;
        }

        await Store.ThrowMissingAsync(app, null, null, cancellationToken);
        if ((await Store.GetAsync<EnvironmentRecord>(key, cancellationToken)).Value is null)
        {
            return await CreateEnvironmentAsync(app, env, who, cancellationToken); // the access changed under the decision
        }

        throw new ConfigCenterException(ConfigErrorKind.AlreadyExists, $"environment '{env}' of app '{app}' already exists");
    }

    public async ValueTask<IReadOnlyList<EnvironmentRecord>> ListEnvironmentsAsync(string app, CancellationToken cancellationToken = default)
    {
        await GetAppAsync(app, cancellationToken);
        return (await Store.ListAsync<EnvironmentRecord>(ConfigKeys.Environments(app), cancellationToken)).Select(x => x.Value).ToList();
    }

    // ---- namespaces and the working copy ----

    public async ValueTask<NamespaceRecord> CreateNamespaceAsync(string app, string env, string ns, NamespaceFormat format, string? schema, ChangeContext who, CancellationToken cancellationToken = default) =>
        await CreateNamespaceAsync(app, env, ns, format, schema, isPublic: false, who, cancellationToken);

    /// <summary>Creates a namespace; a public one (<paramref name="isPublic"/>) can be associated by other apps.</summary>
    public ValueTask<NamespaceRecord> CreateNamespaceAsync(string app, string env, string ns, NamespaceFormat format, string? schema, bool isPublic, ChangeContext who, CancellationToken cancellationToken = default) =>
        CreateNamespaceAsync(app, env, ns, format, schema, isPublic, secret: false, who, cancellationToken);

    /// <summary>
    /// Creates a namespace; a public one (<paramref name="isPublic"/>) can be associated by other apps; every value of a
    /// <paramref name="secret"/> one (each item, or the whole document) is sealed before it is stored.
    /// </summary>
    public async ValueTask<NamespaceRecord> CreateNamespaceAsync(string app, string env, string ns, NamespaceFormat format, string? schema, bool isPublic, bool secret, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("app", app, Limits);
        ConfigNames.CheckName("environment", env, Limits);
        ConfigNames.CheckName("namespace", ns, Limits);
        if (!Enum.IsDefined(format))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"format '{format}' is not one of properties, json, yaml, text, flags");
        }

        if (secret && format == NamespaceFormat.Flags)
        {
            // Every instance evaluates every flag of the namespace: there is no one the values would be hidden from.
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "a flags namespace cannot be secret: every instance that reads it evaluates all of its flags");
        }

        if (!string.IsNullOrWhiteSpace(schema))
        {
            DocumentValidator.CompileSchema(schema, Limits);
        }

        CheckAuthor(who);
        var pins = await Access.RequireManagerAsync(who, app, "create namespaces", cancellationToken);
        if (secret)
        {
            Secrets.RequireMasterKey();
        }

        var now = clock.GetUtcNow();
        var record = new NamespaceRecord
        {
            App = app, Env = env, Name = ns, Format = format, Schema = string.IsNullOrWhiteSpace(schema) ? null : schema, IsPublic = isPublic, Secret = secret,
            UpdatedAt = now, UpdatedBy = who.Author,
        };
        var key = ConfigKeys.Namespace(app, env, ns);
        var (ok, revision) = await Store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.Environment(app, env)), ConfigStore.Absent(key)],
            [ConfigStore.Put(key, record), ConfigStore.Audit(app, Audit(who, now, "namespace.create", $"{app}/{env}/{ns}", $"{format}{(isPublic ? " public" : "")}{(secret ? " secret" : "")}"))],
            cancellationToken);
        if (ok)
        {
            return record with { Revision = revision };
        }

        await Store.ThrowMissingAsync(app, env, null, cancellationToken);
        if ((await Store.GetAsync<NamespaceRecord>(key, cancellationToken)).Value is null)
        {
            return await CreateNamespaceAsync(app, env, ns, format, schema, isPublic, who, cancellationToken); // the access changed under the decision
        }

        throw new ConfigCenterException(ConfigErrorKind.AlreadyExists, $"namespace '{ns}' in {app}/{env} already exists");
    }

    public ValueTask<NamespaceRecord> GetNamespaceAsync(string app, string env, string ns, CancellationToken cancellationToken = default) =>
        Store.NamespaceAsync(app, env, ns, cancellationToken);

    public async ValueTask<IReadOnlyList<NamespaceRecord>> ListNamespacesAsync(string app, string env, CancellationToken cancellationToken = default)
    {
        var list = await Store.ListAsync<NamespaceRecord>(ConfigKeys.Namespaces(app, env), cancellationToken);
        if (list.Count == 0)
        {
            await Store.ThrowMissingAsync(app, env, null, cancellationToken);
        }

        return list.Select(x => ConfigStore.NamespaceOf(x.Kv)).ToList();
    }

    /// <summary>Sets (adds or replaces) one item of a properties namespace's working copy.</summary>
    /// <summary>An expected revision is a revision the caller read (&gt; 0) or 0 for none; a negative one is a mistake, never "no guard".</summary>
    internal static void CheckExpectedRevision(long expectedRevision)
    {
        if (expectedRevision < 0)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"expectedRevision {expectedRevision} is negative: pass the namespace revision you read, or 0 for no guard");
        }
    }

    public ValueTask<NamespaceRecord> SetItemAsync(string app, string env, string ns, ConfigItem item, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckItemKey(item.Key, Limits);
        ConfigNames.CheckValue(item.Key, item.Value, Limits);
        if (item.Value.Contains('\n', StringComparison.Ordinal) || item.Value.Contains('\r', StringComparison.Ordinal))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the value of '{item.Key}' has a line break; properties values are single-line");
        }

        if (item.Secret)
        {
            Secrets.RequireMasterKey();
        }

        // A secret stays secret: setting it again without the mark seals the new value too (delete it to make it plain).
        bool Sealed(NamespaceRecord n) => item.Secret || n.Secret || n.Items.Any(i => i.Key == item.Key && i.Secret);
        return MutateAsync(app, env, ns, expectedRevision, who, "item.set", item.Key + (item.Secret ? " (secret)" : ""), n => Sealed(n) ? KeyUse.Create : KeyUse.None, (n, key) =>
        {
            RequireProperties(n);
            var items = n.Items.ToList();
            var at = items.FindIndex(i => i.Key == item.Key);
            var stored = key is not null ? item with { Value = key.Seal(item.Key, item.Value), Secret = true } : item;
            if (at >= 0 && item.Comment is null)
            {
                // No comment given: the item keeps the one it has (an empty comment clears it).
                stored = stored with { Comment = items[at].Comment };
            }

            if (at >= 0 && items[at].Secret && item.Value == NamespaceSecrets.Mask)
            {
                // The mask sent back (a form saved as shown): the value stays as it was.
                stored = items[at] with { Comment = stored.Comment };
            }

            if (at >= 0)
            {
                items[at] = stored;
            }
            else
            {
                items.Add(stored);
            }

            var next = n with { Items = items };
            ConfigNames.CheckContent(PropertiesDocument.Render(items), Limits);
            return (next, []);
        }, cancellationToken);
    }

    public ValueTask<NamespaceRecord> DeleteItemAsync(string app, string env, string ns, string key, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "item.delete", key, n =>
        {
            RequireProperties(n);
            if (!n.Items.Any(i => i.Key == key))
            {
                throw new ConfigCenterException(ConfigErrorKind.NotFound, $"item '{key}' is not in {app}/{env}/{ns}");
            }

            return (n with { Items = n.Items.Where(i => i.Key != key).ToList() }, []);
        }, cancellationToken);

    /// <summary>Replaces the whole working copy. For properties the text is parsed into items (and must parse).</summary>
    public ValueTask<NamespaceRecord> SetContentAsync(string app, string env, string ns, string content, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckContent(content, Limits);
        return MutateAsync(app, env, ns, expectedRevision, who, "content.set", $"{Encoding.UTF8.GetByteCount(content)} bytes", n => NamespaceSecrets.HasSecrets(n) ? KeyUse.Create : KeyUse.None, (n, key) =>
        {
            if (n.Format != NamespaceFormat.Properties)
            {
                return (n with { Content = key is null || !n.Secret ? content : content == NamespaceSecrets.Mask ? n.Content : key.Seal("", content) }, []);
            }

            // Items that were secret stay secret; one sent back masked (a document saved as shown) keeps its sealed value.
            var secret = n.Items.Where(i => i.Secret).ToDictionary(i => i.Key, StringComparer.Ordinal);
            var items = PropertiesDocument.Parse(content, Limits).Select(i => i with { Secret = n.Secret || secret.ContainsKey(i.Key) }).ToList();
            var stored = key is null ? items : NamespaceSecrets.Seal(items, key, n.Secret);
            for (var at = 0; at < items.Count; at++)
            {
                if (items[at].Value == NamespaceSecrets.Mask && secret.TryGetValue(items[at].Key, out var kept))
                {
                    stored[at] = kept with { Comment = items[at].Comment };
                }
            }

            return (n with { Items = stored, Content = "" }, []);
        }, cancellationToken);
    }

    /// <summary>Attaches (or with null removes) a JSON Schema checked at every publish.</summary>
    public ValueTask<NamespaceRecord> SetSchemaAsync(string app, string env, string ns, string? schema, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrWhiteSpace(schema))
        {
            DocumentValidator.CompileSchema(schema, Limits);
        }

        return MutateAsync(app, env, ns, expectedRevision, who, "schema.set", schema is null ? "removed" : "set", n =>
            (n with { Schema = string.IsNullOrWhiteSpace(schema) ? null : schema }, []), cancellationToken);
    }

    /// <summary>The working copy as one document (properties rendered as lines).</summary>
    public static string WorkingContent(NamespaceRecord n) =>
        n.Format == NamespaceFormat.Properties ? PropertiesDocument.Render(n.Items) : n.Content;

    // ---- releases ----

    /// <summary>Validates the working copy and publishes it as the next release: release + history + head in one txn.</summary>
    public async ValueTask<ReleaseRecord> PublishAsync(string app, string env, string ns, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ReleaseRecord? release = null;
        try
        {
            await MutateAsync(app, env, ns, expectedRevision, who, "release.publish", title ?? "", ReadKeyIfSecret, (n, key) =>
            {
                release = NewRelease(n, ReleaseKind.Normal, title, comment, who, WorkingContent(n), key);
                var history = History(n, "publish", release.Id, n.HeadReleaseId, null, who, comment);
                var next = n with { HeadReleaseId = release.Id, LastReleaseId = release.Id, LastHistoryId = history.Id };
                return (next, [ReleasePut(release), HistoryPut(n, history)]);
            }, cancellationToken);
        }
        catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.InvalidDocument)
        {
            ConfigCenterMetrics.ReleaseRefused();
            throw;
        }

        ConfigCenterMetrics.ReleasePublished();
        return release!;
    }

    /// <summary>Publishes a release restoring the content of <paramref name="toReleaseId"/>; clients move to it.</summary>
    public ValueTask<ReleaseRecord> RollbackAsync(string app, string env, string ns, long toReleaseId, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        RollbackAsync(app, env, ns, toReleaseId, comment, expectedRevision, RollbackEdits.Refuse, ignoreSchema: false, who, cancellationToken);

    /// <summary>
    /// Publishes a release restoring the content of <paramref name="toReleaseId"/> and resets the working copy to it, so
    /// the next publish does not ship the rolled-back content again. Unpublished edits are refused (naming them) unless
    /// <paramref name="edits"/> says to discard or keep them. A release that the schema attached since refuses is
    /// refused with that explanation unless <paramref name="ignoreSchema"/> (it was valid when it was published).
    /// </summary>
    public async ValueTask<ReleaseRecord> RollbackAsync(
        string app, string env, string ns, long toReleaseId, string? comment, long expectedRevision, RollbackEdits edits, bool ignoreSchema, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var target = await Store.ReleaseAsync(app, env, ns, toReleaseId, cancellationToken);
        if (target is null)
        {
            await Store.NamespaceAsync(app, env, ns, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"release {toReleaseId} of {app}/{env}/{ns} does not exist");
        }

        ReleaseRecord? release = null;
        var detail = $"to {toReleaseId}{(edits == RollbackEdits.Discard ? ", unpublished edits discarded" : edits == RollbackEdits.Keep ? ", unpublished edits kept" : "")}{(ignoreSchema ? ", schema not checked" : "")}";
        await MutateAsync(app, env, ns, expectedRevision, who, "release.rollback", detail, n => NamespaceSecrets.HasSecrets(target) || NamespaceSecrets.HasSecrets(n) ? KeyUse.Read : KeyUse.None, async (n, key) =>
        {
            var head = await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken);
            var unpublished = UnpublishedKeys(n, head, key);
            if (unpublished.Count > 0 && edits == RollbackEdits.Refuse)
            {
                throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                    $"{app}/{env}/{ns} has unpublished edits ({Names(unpublished)}): a rollback resets the working copy to release {toReleaseId}, so say whether to discard them " +
                    "(--discard-edits, \"edits\": \"discard\") or keep them for the next publish (--keep-edits, \"edits\": \"keep\")");
            }

            try
            {
                release = NewRelease(n, ReleaseKind.Rollback, $"rollback to {toReleaseId}", comment, who, target.Content, key, target, checkSchema: !ignoreSchema) with
                {
                    Configurations = target.Configurations,
                    RollbackOf = toReleaseId,
                };
            }
            catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.InvalidDocument && n.Schema is not null && e.Message.StartsWith("schema:", StringComparison.Ordinal))
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidDocument,
                    $"release {toReleaseId} does not satisfy the schema {app}/{env}/{ns} has now (it was published before that schema or under another one): {e.Message}. " +
                    "Roll back anyway with --ignore-schema (\"ignoreSchema\": true); the audit records that the schema was not checked");
            }

            var history = History(n, "rollback", release.Id, n.HeadReleaseId, null, who, comment);
            var next = n with { HeadReleaseId = release.Id, LastReleaseId = release.Id, LastHistoryId = history.Id };
            if (edits != RollbackEdits.Keep || unpublished.Count == 0)
            {
                next = WithWorkingCopyOf(next, target) with { Editors = [] };
            }

            return (next, [ReleasePut(release), HistoryPut(n, history)]);
        }, cancellationToken);
        ConfigCenterMetrics.ReleasePublished();
        return release!;
    }

    /// <summary>
    /// Resets the working copy to the main release (what clients run), dropping unpublished edits: what the import error
    /// and a bad edit call for. Refused when nothing was released yet.
    /// </summary>
    public ValueTask<NamespaceRecord> DiscardAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "content.discard", "", n => NamespaceSecrets.HasSecrets(n) ? KeyUse.Read : KeyUse.None, async (n, key) =>
        {
            var head = await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken)
                ?? throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{app}/{env}/{ns} has no release to go back to: delete or edit items instead");
            var dropped = UnpublishedKeys(n, head, key);
            var history = History(n, "discard", head.Id, head.Id, null, who, dropped.Count == 0 ? "nothing to discard" : $"discarded {Names(dropped)}");
            return (WithWorkingCopyOf(n, head) with { LastHistoryId = history.Id }, [HistoryPut(n, history)]);
        }, cancellationToken);

    /// <summary>The keys (or "(document)") whose working-copy value differs from <paramref name="head"/>, compared as plaintext.</summary>
    private static List<string> UnpublishedKeys(NamespaceRecord n, ReleaseRecord? head, NamespaceDataKey? key)
    {
        var working = key is null ? n : NamespaceSecrets.View(n, key);
        var opened = head is null ? null : key is null ? head : NamespaceSecrets.View(head, key);
        var diff = ReleaseDiff.Compare(n.Format, opened?.Content, opened?.Configurations, WorkingContent(working), ToMap(working.Items));
        return diff.Select(d => d.Key.Length == 0 ? "(document)" : d.Key).ToList();
    }

    private static string Names(IReadOnlyList<string> keys) =>
        keys.Count <= 10 ? string.Join(", ", keys) : $"{string.Join(", ", keys.Take(10))} and {keys.Count - 10} more";

    /// <summary><paramref name="n"/> with the working copy of <paramref name="r"/>: its items (comments, secret marks, sealed values as they are) or document.</summary>
    private static NamespaceRecord WithWorkingCopyOf(NamespaceRecord n, ReleaseRecord r)
    {
        if (r.Format != NamespaceFormat.Properties)
        {
            return n with { Content = r.Content, Items = [] };
        }

        var secret = r.SecretKeys.ToHashSet(StringComparer.Ordinal);
        var items = PropertiesDocument.Parse(r.Content, UnboundedLimits).Select(i => i with { Secret = secret.Contains(i.Key) }).ToList();
        return n with { Items = items, Content = "" };
    }

    private static readonly ConfigLimits UnboundedLimits = new() { MaxContentBytes = int.MaxValue, MaxValueBytes = int.MaxValue };

    /// <summary>Publishes the working copy to the instances <paramref name="rule"/> selects (replacing any active gray release).</summary>
    public async ValueTask<ReleaseRecord> GrayPublishAsync(string app, string env, string ns, GrayRule rule, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckRule(rule);
        ReleaseRecord? release = null;
        await MutateAsync(app, env, ns, expectedRevision, who, "gray.publish", Describe(rule), ReadKeyIfSecret, (n, key) =>
        {
            release = NewRelease(n, ReleaseKind.Gray, title, comment, who, WorkingContent(n), key);
            var history = History(n, "gray-publish", release.Id, n.HeadReleaseId, rule, who, comment);
            var (rollout, writes) = EndRollout(n, RolloutStatus.Aborted, $"replaced by gray release {release.Id} ({who.Author})");
            writes.AddRange([ReleasePut(release), HistoryPut(n, history)]);
            return (n with { Gray = new GrayState(release.Id, rule), Rollout = rollout, LastReleaseId = release.Id, LastHistoryId = history.Id }, writes);
        }, cancellationToken);
        ConfigCenterMetrics.ReleasePublished();
        return release!;
    }

    /// <summary>Changes who gets the active gray release (e.g. 10% to 20%).</summary>
    public ValueTask<NamespaceRecord> UpdateGrayRuleAsync(string app, string env, string ns, GrayRule rule, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckRule(rule);
        return MutateAsync(app, env, ns, expectedRevision, who, "gray.rule", Describe(rule), n =>
        {
            var gray = RequireGray(n);
            if (n.Rollout is { Active: true } plan)
            {
                throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                    $"a rollout plan drives the gray rule of {n.App}/{n.Env}/{n.Name} (step {plan.Step + 1} of {plan.Steps.Count}): pause, skip or abort it instead");
            }

            var history = History(n, "gray-rule", gray.ReleaseId, n.HeadReleaseId, rule, who, null);
            return (n with { Gray = gray with { Rule = rule }, LastHistoryId = history.Id }, [HistoryPut(n, history)]);
        }, cancellationToken);
    }

    /// <summary>Makes the gray release the main release for everyone.</summary>
    public ValueTask<NamespaceRecord> PromoteGrayAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.promote", "", n =>
        {
            var gray = RequireGray(n);
            var history = History(n, "gray-promote", gray.ReleaseId, n.HeadReleaseId, gray.Rule, who, null);
            var (rollout, writes) = EndRollout(n, RolloutStatus.Completed, $"promoted by {who.Author}");
            writes.Add(HistoryPut(n, history));
            return (n with { HeadReleaseId = gray.ReleaseId, Gray = null, Rollout = rollout, LastHistoryId = history.Id }, writes);
        }, cancellationToken);

    /// <summary>Ends the gray release: its instances go back to the main release.</summary>
    public ValueTask<NamespaceRecord> AbandonGrayAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.abandon", "", n =>
        {
            var gray = RequireGray(n);
            var history = History(n, "gray-abandon", n.HeadReleaseId, gray.ReleaseId, gray.Rule, who, null);
            var (rollout, writes) = EndRollout(n, RolloutStatus.Aborted, $"gray release abandoned by {who.Author}");
            writes.Add(HistoryPut(n, history));
            return (n with { Gray = null, Rollout = rollout, LastHistoryId = history.Id }, writes);
        }, cancellationToken);

    public async ValueTask<ReleaseRecord> GetReleaseAsync(string app, string env, string ns, long id, CancellationToken cancellationToken = default)
    {
        var release = await Store.ReleaseAsync(app, env, ns, id, cancellationToken);
        if (release is null)
        {
            await Store.NamespaceAsync(app, env, ns, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"release {id} of {app}/{env}/{ns} does not exist");
        }

        return release;
    }

    /// <summary>The main release, or NoRelease when nothing was published yet.</summary>
    public async ValueTask<ReleaseRecord> LatestReleaseAsync(string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        var n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        return await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken)
            ?? throw new ConfigCenterException(ConfigErrorKind.NoRelease, $"{app}/{env}/{ns} has no release yet");
    }

    public async ValueTask<IReadOnlyList<ReleaseRecord>> ListReleasesAsync(string app, string env, string ns, int limit = 50, CancellationToken cancellationToken = default)
    {
        await Store.NamespaceAsync(app, env, ns, cancellationToken);
        return (await Store.ListAsync<ReleaseRecord>(ConfigKeys.Releases(app, env, ns), cancellationToken, limit, descending: true)).Select(x => x.Value).ToList();
    }

    public async ValueTask<IReadOnlyList<HistoryEntry>> HistoryAsync(string app, string env, string ns, int limit = 100, CancellationToken cancellationToken = default)
    {
        await Store.NamespaceAsync(app, env, ns, cancellationToken);
        return (await Store.ListAsync<HistoryEntry>(ConfigKeys.Histories(app, env, ns), cancellationToken, limit, descending: true)).Select(x => x.Value).ToList();
    }

    public async ValueTask<IReadOnlyList<AuditEntry>> AuditAsync(string app, int limit = 100, CancellationToken cancellationToken = default)
    {
        await GetAppAsync(app, cancellationToken);
        return (await Store.ListAsync<AuditEntry>(ConfigKeys.Audits(app), cancellationToken, limit, descending: true)).Select(x => x.Value).ToList();
    }

    // ---- secrets ----

    /// <summary>
    /// Whether <paramref name="who"/> may see the plaintext of the secrets of <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/>
    /// in views, releases, diffs and exports-as-plaintext (re-sealing them elsewhere). The one place that decides it.
    /// </summary>
    public ValueTask<bool> CanRevealAsync(ChangeContext who, string app, string env, string ns, CancellationToken cancellationToken = default) =>
        Access.CanAsync(who, app, env, ns, ConfigPermission.Reveal, cancellationToken);

    /// <summary>
    /// <paramref name="n"/> as <paramref name="who"/> may see it: secret values masked, or with <paramref name="reveal"/>
    /// (refused without the reveal permission) opened.
    /// </summary>
    public async ValueTask<NamespaceRecord> ViewAsync(NamespaceRecord n, bool reveal, ChangeContext who, CancellationToken cancellationToken = default) =>
        NamespaceSecrets.HasSecrets(n) ? NamespaceSecrets.View(n, await RevealKeyAsync(n, reveal, who, "working copy", cancellationToken)) : n;

    /// <summary><paramref name="r"/> as <paramref name="who"/> may see it (see <see cref="ViewAsync(NamespaceRecord, bool, ChangeContext, CancellationToken)"/>).</summary>
    public async ValueTask<ReleaseRecord> ViewAsync(ReleaseRecord r, bool reveal, ChangeContext who, CancellationToken cancellationToken = default)
    {
        if (!NamespaceSecrets.HasSecrets(r))
        {
            return r;
        }

        var n = reveal ? await Store.NamespaceAsync(r.App, r.Env, r.Namespace, cancellationToken) : null;
        return NamespaceSecrets.View(r, n is null ? null : await RevealKeyAsync(n, reveal, who, $"release {r.Id}", cancellationToken));
    }

    /// <summary>Re-wraps every namespace's data key under the current master key (<c>conclave config keys rotate</c>).</summary>
    public ValueTask<KeyRotationResult> RotateKeysAsync(ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckAuthor(who);
        return Secrets.RotateAsync(who, cancellationToken);
    }

    private async ValueTask<NamespaceDataKey?> RevealKeyAsync(NamespaceRecord n, bool reveal, ChangeContext who, string what, CancellationToken cancellationToken)
    {
        if (!reveal)
        {
            return null;
        }

        await Access.AuditRevealAsync(who, n.App, n.Env, n.Name, what, cancellationToken);
        return await Secrets.ForReadAsync(n, cancellationToken);
    }

    // ---- diff ----

    public ValueTask<IReadOnlyList<DiffEntry>> DiffReleasesAsync(string app, string env, string ns, long from, long to, CancellationToken cancellationToken = default) =>
        DiffReleasesAsync(app, env, ns, from, to, reveal: false, ChangeContext.Unchecked("reader"), cancellationToken);

    /// <summary>Two releases compared; secret values compared as plaintext when this member can open them, and shown masked unless revealed.</summary>
    public async ValueTask<IReadOnlyList<DiffEntry>> DiffReleasesAsync(string app, string env, string ns, long from, long to, bool reveal, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var a = await GetReleaseAsync(app, env, ns, from, cancellationToken);
        var b = await GetReleaseAsync(app, env, ns, to, cancellationToken);
        var n = NamespaceSecrets.HasSecrets(a) || NamespaceSecrets.HasSecrets(b) ? await Store.NamespaceAsync(app, env, ns, cancellationToken) : null;
        var key = n is null ? null : await DiffKeyAsync(n, reveal, who, $"diff of releases {from} and {to}", cancellationToken);
        return MaskDiff(ReleaseDiff.Compare(a.Format, Open(a, key).Content, Open(a, key).Configurations, Open(b, key).Content, Open(b, key).Configurations), Secret(a, b), a.Sealed || b.Sealed, reveal);
    }

    public ValueTask<IReadOnlyList<DiffEntry>> DiffWorkingCopyAsync(string app, string env, string ns, CancellationToken cancellationToken = default) =>
        DiffWorkingCopyAsync(app, env, ns, reveal: false, ChangeContext.Unchecked("reader"), cancellationToken);

    /// <summary>What publishing now would change: the main release against the working copy.</summary>
    public async ValueTask<IReadOnlyList<DiffEntry>> DiffWorkingCopyAsync(string app, string env, string ns, bool reveal, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        var head = await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken);
        var secrets = NamespaceSecrets.HasSecrets(n) || (head is not null && NamespaceSecrets.HasSecrets(head));
        var key = secrets ? await DiffKeyAsync(n, reveal, who, "diff of the working copy", cancellationToken) : null;
        var working = key is null ? n : NamespaceSecrets.View(n, key);
        var opened = head is null ? null : Open(head, key);
        var secretKeys = Secret(head, null);
        secretKeys.UnionWith(n.Items.Where(i => i.Secret).Select(i => i.Key));
        return MaskDiff(ReleaseDiff.Compare(n.Format, opened?.Content, opened?.Configurations, WorkingContent(working), ToMap(working.Items)), secretKeys, n.Secret || head?.Sealed == true, reveal);
    }

    public ValueTask<IReadOnlyList<DiffEntry>> DiffEnvironmentsAsync(string app, string envA, string envB, string ns, CancellationToken cancellationToken = default) =>
        DiffEnvironmentsAsync(app, envA, envB, ns, reveal: false, ChangeContext.Unchecked("reader"), cancellationToken);

    /// <summary>The same namespace's main releases in two environments (each opened with its own environment's data key).</summary>
    public async ValueTask<IReadOnlyList<DiffEntry>> DiffEnvironmentsAsync(string app, string envA, string envB, string ns, bool reveal, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var a = await Store.NamespaceAsync(app, envA, ns, cancellationToken);
        var b = await Store.NamespaceAsync(app, envB, ns, cancellationToken);
        var ra = await Store.ReleaseAsync(app, envA, ns, a.HeadReleaseId, cancellationToken);
        var rb = await Store.ReleaseAsync(app, envB, ns, b.HeadReleaseId, cancellationToken);
        var ka = ra is not null && NamespaceSecrets.HasSecrets(ra) ? await DiffKeyAsync(a, reveal, who, "diff of environments", cancellationToken) : null;
        var kb = rb is not null && NamespaceSecrets.HasSecrets(rb) ? await DiffKeyAsync(b, reveal, who, "diff of environments", cancellationToken) : null;
        var oa = ra is null ? null : Open(ra, ka);
        var ob = rb is null ? null : Open(rb, kb);
        return MaskDiff(ReleaseDiff.Compare(a.Format, oa?.Content, oa?.Configurations, ob?.Content, ob?.Configurations), Secret(ra, rb), ra?.Sealed == true || rb?.Sealed == true, reveal);
    }

    /// <summary>
    /// The key a diff opens with: the reader's reveal decides what is shown, but values are compared as plaintext whenever
    /// this member can open them (two seals of one value differ as ciphertext); without a master key, as ciphertext.
    /// </summary>
    private async ValueTask<NamespaceDataKey?> DiffKeyAsync(NamespaceRecord n, bool reveal, ChangeContext who, string what, CancellationToken cancellationToken)
    {
        if (reveal)
        {
            return await RevealKeyAsync(n, reveal, who, what, cancellationToken);
        }

        try
        {
            return Secrets.Available ? await Secrets.ForReadAsync(n, cancellationToken) : null;
        }
        catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.SecretUnavailable)
        {
            return null;
        }
    }

    private static ReleaseRecord Open(ReleaseRecord r, NamespaceDataKey? key) => key is null ? r : NamespaceSecrets.View(r, key);

    private static HashSet<string> Secret(ReleaseRecord? a, ReleaseRecord? b) =>
        new((a?.SecretKeys ?? []).Concat(b?.SecretKeys ?? []), StringComparer.Ordinal);

    private static IReadOnlyList<DiffEntry> MaskDiff(IReadOnlyList<DiffEntry> entries, HashSet<string> secretKeys, bool sealedDocument, bool reveal)
    {
        if (reveal)
        {
            return entries;
        }

        static string? Masked(string? value) => value is null ? null : NamespaceSecrets.Mask;
        return entries.Select(e => (e.Key.Length == 0 ? sealedDocument : secretKeys.Contains(e.Key)) ? e with { OldValue = Masked(e.OldValue), NewValue = Masked(e.NewValue) } : e).ToList();
    }

    // ---- machinery ----

    /// <summary>
    /// Reads the namespace, applies <paramref name="change"/>, and writes the result (plus extra writes and an
    /// audit entry) guarded by the revision read. With <paramref name="expectedRevision"/> &gt; 0 the caller's
    /// revision must still be current (else Conflict); with 0 a concurrent change makes us re-read and retry.
    /// </summary>
    private ValueTask<NamespaceRecord> MutateAsync(
        string app, string env, string ns, long expectedRevision, ChangeContext who, string action, string detail,
        Func<NamespaceRecord, (NamespaceRecord Next, List<RequestOp> Writes)> change, CancellationToken cancellationToken) =>
        MutateAsync(app, env, ns, expectedRevision, who, action, detail, _ => KeyUse.None, (n, _) => ValueTask.FromResult(change(n)), cancellationToken);

    /// <summary>
    /// As above, for changes that seal or open secrets: <paramref name="keyUse"/> says, per attempt, whether the namespace's
    /// data key is needed; a key created for the first secret is written in the change's own transaction.
    /// </summary>
    private ValueTask<NamespaceRecord> MutateAsync(
        string app, string env, string ns, long expectedRevision, ChangeContext who, string action, string detail,
        Func<NamespaceRecord, KeyUse> keyUse, Func<NamespaceRecord, NamespaceDataKey?, (NamespaceRecord Next, List<RequestOp> Writes)> change, CancellationToken cancellationToken) =>
        MutateAsync(app, env, ns, expectedRevision, who, action, detail, keyUse, (n, key) => ValueTask.FromResult(change(n, key)), cancellationToken);

    /// <summary>
    /// The one path of every namespace change: decides the permission (pinned in the transaction), reads the namespace,
    /// applies the release policy, runs <paramref name="change"/> (which may read more records: it runs inside the guarded
    /// attempt) and writes the result with its audit entry.
    /// </summary>
    private async ValueTask<NamespaceRecord> MutateAsync(
        string app, string env, string ns, long expectedRevision, ChangeContext who, string action, string detail,
        Func<NamespaceRecord, KeyUse> keyUse, Func<NamespaceRecord, NamespaceDataKey?, ValueTask<(NamespaceRecord Next, List<RequestOp> Writes)>> change, CancellationToken cancellationToken)
    {
        CheckAuthor(who);
        CheckExpectedRevision(expectedRevision);
        var permission = PermissionOf(action);
        var gateKey = $"{app}/{env}/{ns}";
        using var gate = await gates.EnterAsync(gateKey, cancellationToken);
        if (gate.Holds)
        {
            gates.MarkHeld(gateKey);
        }

        for (var attempt = 0; ; attempt++)
        {
            var pins = await Access.RequireAsync(who, app, env, ns, permission, action, cancellationToken);
            var current = await Store.NamespaceAsync(app, env, ns, cancellationToken);
            if (expectedRevision > 0 && current.Revision != expectedRevision)
            {
                throw Conflict(app, env, ns, expectedRevision, current.Revision);
            }

            if (current.RequireApproval && action is "release.publish" or "gray.publish" or "gray.promote")
            {
                throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                    $"{app}/{env}/{ns} requires approval: publishing files a release request that another person with the release permission approves (gray release is not available while approval is required)");
            }

            if (action is "release.publish" or "gray.publish" or "release.approve" && current.SeparateEditAndRelease && current.Editors.Contains(who.Author, StringComparer.Ordinal))
            {
                throw new ConfigCenterException(ConfigErrorKind.PermissionDenied,
                    $"{who.Author} edited {app}/{env}/{ns} since its last release, and this namespace separates editing from releasing: someone else with the release permission must publish it (unreleased edits by {string.Join(", ", current.Editors)})");
            }

            var use = keyUse(current);
            var dataKey = use == KeyUse.None ? null : await Secrets.ForEditAsync(app, env, ns, create: use == KeyUse.Create, cancellationToken);
            var now = clock.GetUtcNow();
            var (next, writes) = await change(current, dataKey);
            next = next with { UpdatedAt = now, UpdatedBy = who.Author, Editors = EditorsAfter(action, current, next, who) };
            var key = ConfigKeys.Namespace(app, env, ns);
            writes.Add(ConfigStore.Put(key, next));
            writes.Add(ConfigStore.Audit(app, Audit(who, now, action, $"{app}/{env}/{ns}", DescribeEdit(action, detail, current, next))));
            List<Compare> compares = [.. pins, ConfigStore.ModifiedAt(key, current.Revision)];
            if (dataKey?.Guard is { } guard)
            {
                compares.Add(guard);
            }

            if (dataKey?.Create is { } create)
            {
                writes.Add(create);
            }

            var (ok, revision) = await Store.CommitAsync(compares, writes, cancellationToken);
            if (ok)
            {
                return next with { Revision = revision };
            }

            // The namespace changed (a guarded edit then fails above as a conflict) or the access did (decided again).
            if (attempt >= MaxRetries)
            {
                var now2 = await Store.GetAsync<NamespaceRecord>(key, cancellationToken);
                throw Conflict(app, env, ns, expectedRevision > 0 ? expectedRevision : current.Revision, now2.ModRevision);
            }
        }
    }

    /// <summary>Most characters of the old -> new values an audit entry of an edit carries.</summary>
    private const int MaxAuditChange = 1024;

    /// <summary>
    /// An edit's audit detail with what it changed: <c>key: old -> new</c> per item (secret values masked), or the
    /// document's size and hash before and after; other actions keep <paramref name="detail"/>.
    /// </summary>
    private static string DescribeEdit(string action, string detail, NamespaceRecord before, NamespaceRecord after)
    {
        if (PermissionOf(action) != ConfigPermission.Edit || action == "schema.set")
        {
            return detail;
        }

        string change;
        if (before.Format != NamespaceFormat.Properties)
        {
            var (a, b) = (before.Content, after.Content);
            change = a == b ? "document unchanged" : before.Secret || after.Secret
                ? "secret document changed"
                : $"document {Encoding.UTF8.GetByteCount(a)} -> {Encoding.UTF8.GetByteCount(b)} bytes, sha256 {Hash(a)[..12]} -> {Hash(b)[..12]}";
        }
        else
        {
            var diff = ReleaseDiff.Compare(before.Format, WorkingContent(before), ToMap(before.Items), WorkingContent(after), ToMap(after.Items));
            var secret = before.Items.Concat(after.Items).Where(i => i.Secret).Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
            var masked = MaskDiff(diff, secret, before.Secret || after.Secret, reveal: false);
            var text = new StringBuilder();
            foreach (var e in masked)
            {
                var entry = $"{e.Key}: {e.OldValue ?? "(none)"} -> {e.NewValue ?? "(none)"}";
                if (text.Length + entry.Length > MaxAuditChange)
                {
                    text.Append($"; ... ({masked.Count} changes in all)");
                    break;
                }

                text.Append(text.Length == 0 ? "" : "; ").Append(entry);
            }

            change = text.Length == 0 ? "no change" : text.ToString();
        }

        return string.IsNullOrEmpty(detail) ? change : $"{detail} | {change}";
    }

    /// <summary>The permission an action on a namespace needs: edits of the working copy, or releasing it.</summary>
    private static ConfigPermission PermissionOf(string action) =>
        action.StartsWith("release.", StringComparison.Ordinal) || action.StartsWith("gray.", StringComparison.Ordinal) ? ConfigPermission.Release : ConfigPermission.Edit;

    /// <summary>Who changed the working copy since the last release: edits add their author, a publish starts the list again.</summary>
    private static IReadOnlyList<string> EditorsAfter(string action, NamespaceRecord current, NamespaceRecord next, ChangeContext who) => action switch
    {
        "release.publish" or "release.approve" or "content.discard" => [],
        "release.rollback" => next.Editors, // [] when the working copy was reset, else as it was
        _ when PermissionOf(action) == ConfigPermission.Edit && !current.Editors.Contains(who.Author, StringComparer.Ordinal) => [.. current.Editors.TakeLast(MaxEditorsKept - 1), who.Author],
        _ => current.Editors,
    };

    private const int MaxEditorsKept = 64;

    /// <summary>
    /// Sets a namespace's release policy (ADR 0015): <paramref name="separateEditAndRelease"/> refuses a publish by anyone who
    /// edited the working copy since the last release. The app's owner, admins or root.
    /// </summary>
    public async ValueTask<NamespaceRecord> SetPolicyAsync(string app, string env, string ns, bool separateEditAndRelease, ChangeContext who, CancellationToken cancellationToken = default) =>
        await SetPolicyAsync(app, env, ns, separateEditAndRelease, requireApproval: null, who, cancellationToken);

    /// <summary>Sets a namespace's release policy; <paramref name="requireApproval"/> null leaves that switch as it is.</summary>
    public async ValueTask<NamespaceRecord> SetPolicyAsync(string app, string env, string ns, bool separateEditAndRelease, bool? requireApproval, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckAuthor(who);
        for (var attempt = 0; ; attempt++)
        {
            var pins = await Access.RequireManagerAsync(who, app, "change the release policy", cancellationToken);
            var current = await Store.NamespaceAsync(app, env, ns, cancellationToken);
            var now = clock.GetUtcNow();
            var next = current with { SeparateEditAndRelease = separateEditAndRelease, RequireApproval = requireApproval ?? current.RequireApproval, UpdatedAt = now, UpdatedBy = who.Author };
            var key = ConfigKeys.Namespace(app, env, ns);
            var (ok, revision) = await Store.CommitAsync(
                [.. pins, ConfigStore.ModifiedAt(key, current.Revision)],
                [ConfigStore.Put(key, next), ConfigStore.Audit(app, Audit(who, now, "namespace.policy", $"{app}/{env}/{ns}", $"separateEditAndRelease={separateEditAndRelease} requireApproval={next.RequireApproval}"))],
                cancellationToken);
            if (ok)
            {
                return next with { Revision = revision };
            }

            if (attempt >= MaxRetries)
            {
                throw Conflict(app, env, ns, current.Revision, current.Revision);
            }
        }
    }

    /// <summary>
    /// A release of <paramref name="content"/> (the working copy's, or <paramref name="restoring"/>'s for a rollback),
    /// validated as plaintext: with secrets, <paramref name="key"/> opens them for the check only; the release holds them sealed.
    /// </summary>
    private ReleaseRecord NewRelease(NamespaceRecord n, ReleaseKind kind, string? title, string? comment, ChangeContext who, string content, NamespaceDataKey? key, ReleaseRecord? restoring = null, bool checkSchema = true)
    {
        var schema = checkSchema ? n.Schema : null;
        var plaintext = key is null ? content
            : restoring is not null ? NamespaceSecrets.View(restoring, key).Content
            : NamespaceSecrets.OpenedWorkingContent(n, key);
        DocumentValidator.Validate(n.Format, plaintext, schema, Limits);
        return new ReleaseRecord
        {
            App = n.App, Env = n.Env, Namespace = n.Name, Id = n.LastReleaseId + 1, Kind = kind, Format = n.Format,
            Title = title ?? "", Comment = comment ?? "", Author = who.Author, CreatedAt = clock.GetUtcNow(),
            Content = content, Configurations = n.Format == NamespaceFormat.Properties ? ToMap(n.Items) : new Dictionary<string, string>(),
            ContentHash = Hash(content),
            SecretKeys = restoring?.SecretKeys ?? (n.Format == NamespaceFormat.Properties ? n.Items.Where(i => i.Secret).Select(i => i.Key).ToList() : []),
            Sealed = restoring?.Sealed ?? (n.Format != NamespaceFormat.Properties && n.Secret),
        };
    }

    private static KeyUse ReadKeyIfSecret(NamespaceRecord n) => NamespaceSecrets.HasSecrets(n) ? KeyUse.Read : KeyUse.None;

    /// <summary>Whether a change needs the namespace's data key: no, to open what is sealed, or to seal (creating the key if needed).</summary>
    private enum KeyUse
    {
        None,
        Read,
        Create,
    }

    private HistoryEntry History(NamespaceRecord n, string operation, long releaseId, long previous, GrayRule? rule, ChangeContext who, string? comment) =>
        new()
        {
            Id = n.LastHistoryId + 1, Operation = operation, ReleaseId = releaseId, PreviousReleaseId = previous, Rule = rule,
            Author = who.Author, At = clock.GetUtcNow(), Comment = comment ?? "",
        };

    private static RequestOp ReleasePut(ReleaseRecord r) => ConfigStore.Put(ConfigKeys.Release(r.App, r.Env, r.Namespace, r.Id), r);

    private static RequestOp HistoryPut(NamespaceRecord n, HistoryEntry h) => ConfigStore.Put(ConfigKeys.History(n.App, n.Env, n.Name, h.Id), h);

    internal static AuditEntry Audit(ChangeContext who, DateTimeOffset at, string action, string target, string detail = "") =>
        new() { At = at, Author = who.Author, From = who.From, Action = action, Target = target, Detail = detail, RequestId = who.RequestId };

    public static string Hash(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    private static Dictionary<string, string> ToMap(IEnumerable<ConfigItem> items) => items.ToDictionary(i => i.Key, i => i.Value, StringComparer.Ordinal);

    internal static void RequireProperties(NamespaceRecord n)
    {
        if (n.Format != NamespaceFormat.Properties)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{n.App}/{n.Env}/{n.Name} is {n.Format}: edit its document, not items");
        }
    }

    private static GrayState RequireGray(NamespaceRecord n) =>
        n.Gray ?? throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{n.App}/{n.Env}/{n.Name} has no active gray release");

    private void CheckRule(GrayRule rule)
    {
        if (double.IsNaN(rule.Percentage) || rule.Percentage is < 0 or > 100)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"gray percentage {rule.Percentage} is not between 0 and 100");
        }

        if (rule.InstanceIds.Count > Limits.MaxGrayInstanceIds)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a gray rule lists {rule.InstanceIds.Count} instance ids; the limit is {Limits.MaxGrayInstanceIds}");
        }

        foreach (var id in rule.InstanceIds)
        {
            ConfigNames.CheckInstanceId(id, Limits);
        }

        foreach (var label in rule.Labels)
        {
            ConfigNames.CheckLabel(label);
        }

        if (rule.InstanceIds.Count == 0 && rule.Labels.Count == 0 && rule.Percentage == 0)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "a gray rule must name instance ids, labels or a percentage above 0");
        }
    }

    internal static void CheckAuthor(ChangeContext who)
    {
        if (string.IsNullOrWhiteSpace(who.Author) || who.Author.Length > 128)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "the author is missing or longer than 128 characters (set X-Conclave-Author or --author)");
        }
    }

    private static string Describe(GrayRule rule) =>
        $"ids={rule.InstanceIds.Count} labels=[{string.Join(",", rule.Labels)}] percentage={rule.Percentage}";

    private static ConfigCenterException Conflict(string app, string env, string ns, long read, long now) =>
        new(ConfigErrorKind.Conflict, $"{app}/{env}/{ns} changed since revision {read} (it is at revision {now}): read it again and reapply your edit") { CurrentRevision = now };
}

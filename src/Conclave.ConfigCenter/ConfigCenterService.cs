using System.Security.Cryptography;
using System.Text;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Validation;

namespace Conclave.ConfigCenter;

/// <summary>
/// The administrative side of the center: apps, environments, namespaces, the working copy, releases, rollback,
/// gray release and history. Every change is one guarded transaction that also writes its audit entry, so a
/// refused or failed change writes nothing.
/// </summary>
public sealed partial class ConfigCenterService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null)
{
    // Each failed round means another edit landed, so this bounds the editors racing on one namespace, not the time.
    private const int MaxRetries = 32;

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    public ConfigStore Store { get; } = new(port);

    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    /// <summary>Who may change what (ADR 0015); every change below asks it first and pins its answer in the change's transaction.</summary>
    public ConfigAccess Access { get; } = new(port, limits, clock);

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
    public async ValueTask<NamespaceRecord> CreateNamespaceAsync(string app, string env, string ns, NamespaceFormat format, string? schema, bool isPublic, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckName("app", app, Limits);
        ConfigNames.CheckName("environment", env, Limits);
        ConfigNames.CheckName("namespace", ns, Limits);
        if (!Enum.IsDefined(format))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"format '{format}' is not one of properties, json, yaml, text");
        }

        if (!string.IsNullOrWhiteSpace(schema))
        {
            DocumentValidator.CompileSchema(schema, Limits);
        }

        CheckAuthor(who);
        var pins = await Access.RequireManagerAsync(who, app, "create namespaces", cancellationToken);
        var now = clock.GetUtcNow();
        var record = new NamespaceRecord
        {
            App = app, Env = env, Name = ns, Format = format, Schema = string.IsNullOrWhiteSpace(schema) ? null : schema, IsPublic = isPublic,
            UpdatedAt = now, UpdatedBy = who.Author,
        };
        var key = ConfigKeys.Namespace(app, env, ns);
        var (ok, revision) = await Store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.Environment(app, env)), ConfigStore.Absent(key)],
            [ConfigStore.Put(key, record), ConfigStore.Audit(app, Audit(who, now, "namespace.create", $"{app}/{env}/{ns}", isPublic ? $"{format} public" : format.ToString()))],
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
    public ValueTask<NamespaceRecord> SetItemAsync(string app, string env, string ns, ConfigItem item, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckItemKey(item.Key, Limits);
        ConfigNames.CheckValue(item.Key, item.Value, Limits);
        if (item.Value.Contains('\n', StringComparison.Ordinal) || item.Value.Contains('\r', StringComparison.Ordinal))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the value of '{item.Key}' has a line break; properties values are single-line");
        }

        return MutateAsync(app, env, ns, expectedRevision, who, "item.set", $"{item.Key}", n =>
        {
            RequireProperties(n);
            var items = n.Items.ToList();
            var at = items.FindIndex(i => i.Key == item.Key);
            if (at >= 0)
            {
                items[at] = item;
            }
            else
            {
                items.Add(item);
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
        return MutateAsync(app, env, ns, expectedRevision, who, "content.set", $"{Encoding.UTF8.GetByteCount(content)} bytes", n =>
            n.Format == NamespaceFormat.Properties
                ? (n with { Items = PropertiesDocument.Parse(content, Limits), Content = "" }, [])
                : (n with { Content = content }, []), cancellationToken);
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
        await MutateAsync(app, env, ns, expectedRevision, who, "release.publish", title ?? "", n =>
        {
            release = NewRelease(n, ReleaseKind.Normal, title, comment, who, WorkingContent(n));
            var history = History(n, "publish", release.Id, n.HeadReleaseId, null, who, comment);
            var next = n with { HeadReleaseId = release.Id, LastReleaseId = release.Id, LastHistoryId = history.Id };
            return (next, [ReleasePut(release), HistoryPut(n, history)]);
        }, cancellationToken);
        return release!;
    }

    /// <summary>Publishes a release restoring the content of <paramref name="toReleaseId"/>; clients move to it.</summary>
    public async ValueTask<ReleaseRecord> RollbackAsync(string app, string env, string ns, long toReleaseId, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        var target = await Store.ReleaseAsync(app, env, ns, toReleaseId, cancellationToken);
        if (target is null)
        {
            await Store.NamespaceAsync(app, env, ns, cancellationToken);
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"release {toReleaseId} of {app}/{env}/{ns} does not exist");
        }

        ReleaseRecord? release = null;
        await MutateAsync(app, env, ns, expectedRevision, who, "release.rollback", $"to {toReleaseId}", n =>
        {
            release = NewRelease(n, ReleaseKind.Rollback, $"rollback to {toReleaseId}", comment, who, target.Content) with
            {
                Configurations = target.Configurations,
                RollbackOf = toReleaseId,
            };
            var history = History(n, "rollback", release.Id, n.HeadReleaseId, null, who, comment);
            return (n with { HeadReleaseId = release.Id, LastReleaseId = release.Id, LastHistoryId = history.Id }, [ReleasePut(release), HistoryPut(n, history)]);
        }, cancellationToken);
        return release!;
    }

    /// <summary>Publishes the working copy to the instances <paramref name="rule"/> selects (replacing any active gray release).</summary>
    public async ValueTask<ReleaseRecord> GrayPublishAsync(string app, string env, string ns, GrayRule rule, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckRule(rule);
        ReleaseRecord? release = null;
        await MutateAsync(app, env, ns, expectedRevision, who, "gray.publish", Describe(rule), n =>
        {
            release = NewRelease(n, ReleaseKind.Gray, title, comment, who, WorkingContent(n));
            var history = History(n, "gray-publish", release.Id, n.HeadReleaseId, rule, who, comment);
            return (n with { Gray = new GrayState(release.Id, rule), LastReleaseId = release.Id, LastHistoryId = history.Id }, [ReleasePut(release), HistoryPut(n, history)]);
        }, cancellationToken);
        return release!;
    }

    /// <summary>Changes who gets the active gray release (e.g. 10% to 20%).</summary>
    public ValueTask<NamespaceRecord> UpdateGrayRuleAsync(string app, string env, string ns, GrayRule rule, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckRule(rule);
        return MutateAsync(app, env, ns, expectedRevision, who, "gray.rule", Describe(rule), n =>
        {
            var gray = RequireGray(n);
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
            return (n with { HeadReleaseId = gray.ReleaseId, Gray = null, LastHistoryId = history.Id }, [HistoryPut(n, history)]);
        }, cancellationToken);

    /// <summary>Ends the gray release: its instances go back to the main release.</summary>
    public ValueTask<NamespaceRecord> AbandonGrayAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.abandon", "", n =>
        {
            var gray = RequireGray(n);
            var history = History(n, "gray-abandon", n.HeadReleaseId, gray.ReleaseId, gray.Rule, who, null);
            return (n with { Gray = null, LastHistoryId = history.Id }, [HistoryPut(n, history)]);
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

    // ---- diff ----

    public async ValueTask<IReadOnlyList<DiffEntry>> DiffReleasesAsync(string app, string env, string ns, long from, long to, CancellationToken cancellationToken = default)
    {
        var a = await GetReleaseAsync(app, env, ns, from, cancellationToken);
        var b = await GetReleaseAsync(app, env, ns, to, cancellationToken);
        return ReleaseDiff.Compare(a.Format, a.Content, a.Configurations, b.Content, b.Configurations);
    }

    /// <summary>What publishing now would change: the main release against the working copy.</summary>
    public async ValueTask<IReadOnlyList<DiffEntry>> DiffWorkingCopyAsync(string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        var n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        var head = await Store.ReleaseAsync(app, env, ns, n.HeadReleaseId, cancellationToken);
        return ReleaseDiff.Compare(n.Format, head?.Content, head?.Configurations, WorkingContent(n), ToMap(n.Items));
    }

    /// <summary>The same namespace's main releases in two environments.</summary>
    public async ValueTask<IReadOnlyList<DiffEntry>> DiffEnvironmentsAsync(string app, string envA, string envB, string ns, CancellationToken cancellationToken = default)
    {
        var a = await Store.NamespaceAsync(app, envA, ns, cancellationToken);
        var b = await Store.NamespaceAsync(app, envB, ns, cancellationToken);
        var ra = await Store.ReleaseAsync(app, envA, ns, a.HeadReleaseId, cancellationToken);
        var rb = await Store.ReleaseAsync(app, envB, ns, b.HeadReleaseId, cancellationToken);
        return ReleaseDiff.Compare(a.Format, ra?.Content, ra?.Configurations, rb?.Content, rb?.Configurations);
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
        MutateAsync(app, env, ns, expectedRevision, who, action, detail, n => ValueTask.FromResult(change(n)), cancellationToken);

    /// <summary>As above, with a change that reads more records; it runs after the namespace is read, inside the guarded attempt.</summary>
    private async ValueTask<NamespaceRecord> MutateAsync(
        string app, string env, string ns, long expectedRevision, ChangeContext who, string action, string detail,
        Func<NamespaceRecord, ValueTask<(NamespaceRecord Next, List<RequestOp> Writes)>> change, CancellationToken cancellationToken)
    {
        CheckAuthor(who);
        var permission = PermissionOf(action);
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

            var now = clock.GetUtcNow();
            var (next, writes) = await change(current);
            next = next with { UpdatedAt = now, UpdatedBy = who.Author, Editors = EditorsAfter(action, current, who) };
            var key = ConfigKeys.Namespace(app, env, ns);
            writes.Add(ConfigStore.Put(key, next));
            writes.Add(ConfigStore.Audit(app, Audit(who, now, action, $"{app}/{env}/{ns}", detail)));
            var (ok, revision) = await Store.CommitAsync([.. pins, ConfigStore.ModifiedAt(key, current.Revision)], writes, cancellationToken);
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

    /// <summary>The permission an action on a namespace needs: edits of the working copy, or releasing it.</summary>
    private static ConfigPermission PermissionOf(string action) =>
        action.StartsWith("release.", StringComparison.Ordinal) || action.StartsWith("gray.", StringComparison.Ordinal) ? ConfigPermission.Release : ConfigPermission.Edit;

    /// <summary>Who changed the working copy since the last release: edits add their author, a publish starts the list again.</summary>
    private static IReadOnlyList<string> EditorsAfter(string action, NamespaceRecord current, ChangeContext who) => action switch
    {
        "release.publish" or "release.approve" => [],
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

    private ReleaseRecord NewRelease(NamespaceRecord n, ReleaseKind kind, string? title, string? comment, ChangeContext who, string content)
    {
        var schema = n.Schema;
        DocumentValidator.Validate(n.Format, content, schema, Limits);
        return new ReleaseRecord
        {
            App = n.App, Env = n.Env, Namespace = n.Name, Id = n.LastReleaseId + 1, Kind = kind, Format = n.Format,
            Title = title ?? "", Comment = comment ?? "", Author = who.Author, CreatedAt = clock.GetUtcNow(),
            Content = content, Configurations = n.Format == NamespaceFormat.Properties ? ToMap(n.Items) : new Dictionary<string, string>(),
            ContentHash = Hash(content),
        };
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

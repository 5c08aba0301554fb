using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// Who may change what in the center (ADR 0015): an app's owner and admins manage it and hold every permission on it;
/// grants give <c>edit</c>, <c>release</c> or <c>reveal</c> on an environment and namespace (or all of them) to a user or
/// a role; root may do everything; nothing is checked while the member's auth is disabled.
/// </summary>
/// <remarks>
/// A decision returns the compares that pin it: the app and access records (and for app creation the settings) must
/// still be at the revisions the decision read when the change's transaction applies. A grant revoked in between fails
/// that transaction, and the change is decided again on the new records. A refusal is audited (action <c>denied</c>)
/// and thrown as <see cref="ConfigErrorKind.PermissionDenied"/> naming the permission, the scope and who can grant it.
/// </remarks>
public sealed class ConfigAccess(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null)
{
    /// <summary>The audit "app" of changes that belong to no app (the center's settings).</summary>
    public const string CenterAudit = "_center";

    /// <summary>The subjects one app's access record may hold (admins plus grants).</summary>
    public const int MaxEntries = 1000;

    private readonly ConfigStore store = new(port);
    private readonly ConfigLimits limits = limits ?? new ConfigLimits();
    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    /// <summary>Requires <paramref name="permission"/> on <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/>.</summary>
    /// <returns>The compares to add to the change's transaction.</returns>
    public async ValueTask<Compare[]> RequireAsync(ChangeContext who, string app, string env, string ns, ConfigPermission permission, string action, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return [];
        }

        var (record, access, pins) = await ReadAsync(app, cancellationToken);
        if (IsManager(who, record, access) || Granted(who, access, env, ns, permission))
        {
            return pins;
        }

        throw await DenyAsync(who, app, action, $"{app}/{env}/{ns}",
            $"{who.Author} may not {Verb(permission)} {app}/{env}/{ns}: that needs the '{Name(permission)}' permission on it, granted by the app's owner ({record.Owner}) or admins");
    }

    /// <summary>Requires the app's owner or an admin (environments, namespaces, access, credentials, imports).</summary>
    public async ValueTask<Compare[]> RequireManagerAsync(ChangeContext who, string app, string action, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return [];
        }

        var (record, access, pins) = await ReadAsync(app, cancellationToken);
        if (IsManager(who, record, access))
        {
            return pins;
        }

        throw await DenyAsync(who, app, action, app, $"{who.Author} may not {action} in app '{app}': only its owner ({record.Owner}), its admins or root may");
    }

    /// <summary>Requires the app's owner (deleting the app, handing it to another owner).</summary>
    public async ValueTask<Compare[]> RequireOwnerAsync(ChangeContext who, string app, string action, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return [];
        }

        var (record, _, pins) = await ReadAsync(app, cancellationToken);
        if (record.Owner == who.Author)
        {
            return pins;
        }

        throw await DenyAsync(who, app, action, app, $"{who.Author} may not {action} app '{app}': only its owner ({record.Owner}) or root may");
    }

    /// <summary>Requires a role the settings allow to create apps (none listed: every signed-in user).</summary>
    public async ValueTask<Compare[]> RequireCreatorAsync(ChangeContext who, string app, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return [];
        }

        var (settings, revision, _) = await store.GetAsync<ConfigSettings>(ConfigKeys.Settings(), cancellationToken);
        var creators = settings?.AppCreators ?? [];
        if (creators.Count == 0 || creators.Any(who.Is))
        {
            return [ConfigStore.ModifiedAt(ConfigKeys.Settings(), revision)];
        }

        throw await DenyAsync(who, app, "app.create", app, $"{who.Author} may not create apps: the center's settings allow {string.Join(", ", creators)} (root changes them)");
    }

    /// <summary>Whether <paramref name="who"/> holds <paramref name="permission"/> there (for views: reveal, what to offer).</summary>
    public async ValueTask<bool> CanAsync(ChangeContext who, string app, string env, string ns, ConfigPermission permission, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return true;
        }

        var record = (await store.GetAsync<AppRecord>(ConfigKeys.App(app), cancellationToken)).Value;
        if (record is null)
        {
            return false;
        }

        var access = (await store.GetAsync<AppAccess>(ConfigKeys.Access(app), cancellationToken)).Value ?? new AppAccess { App = app };
        return IsManager(who, record, access) || Granted(who, access, env, ns, permission);
    }

    /// <summary>What <paramref name="who"/> may do in a namespace, for the console to offer only that.</summary>
    public async ValueTask<NamespacePermissions> PermissionsAsync(ChangeContext who, string app, string env, string ns, CancellationToken cancellationToken)
    {
        if (!who.Enforced || who.IsAdmin)
        {
            return new NamespacePermissions(true, true, true, true);
        }

        var record = (await store.GetAsync<AppRecord>(ConfigKeys.App(app), cancellationToken)).Value
            ?? throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{app}' does not exist");
        var access = (await store.GetAsync<AppAccess>(ConfigKeys.Access(app), cancellationToken)).Value ?? new AppAccess { App = app };
        var manager = IsManager(who, record, access);
        return new NamespacePermissions(
            manager || Granted(who, access, env, ns, ConfigPermission.Edit),
            manager || Granted(who, access, env, ns, ConfigPermission.Release),
            manager || Granted(who, access, env, ns, ConfigPermission.Reveal),
            manager);
    }

    // ---- managing access ----

    /// <summary>The app's owner, admins and grants.</summary>
    public async ValueTask<AccessView> GetAsync(string app, CancellationToken cancellationToken)
    {
        var (record, access, _) = await ReadAsync(app, cancellationToken);
        return new AccessView(app, record.Owner, access.Admins, access.Grants, access.Revision);
    }

    /// <summary>Adds a grant (no-op when present). Owner, admins or root.</summary>
    public ValueTask<AccessView> GrantAsync(ChangeContext who, string app, AccessGrant grant, CancellationToken cancellationToken)
    {
        CheckGrant(grant);
        return ChangeAsync(who, app, "access.grant", Describe(grant), a => a.Grants.Contains(grant) ? a : a with { Grants = [.. a.Grants, grant] }, cancellationToken);
    }

    /// <summary>Removes a grant; NotFound when there is none such.</summary>
    public ValueTask<AccessView> RevokeAsync(ChangeContext who, string app, AccessGrant grant, CancellationToken cancellationToken) =>
        ChangeAsync(who, app, "access.revoke", Describe(grant), a => a.Grants.Contains(grant)
            ? a with { Grants = [.. a.Grants.Where(g => g != grant)] }
            : throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{app}' has no grant {Describe(grant)}"), cancellationToken);

    /// <summary>Makes <paramref name="subject"/> an admin of the app. Owner, admins or root.</summary>
    public ValueTask<AccessView> AddAdminAsync(ChangeContext who, string app, string subject, CancellationToken cancellationToken)
    {
        CheckSubject(subject);
        return ChangeAsync(who, app, "access.admin.add", subject, a => a.Admins.Contains(subject) ? a : a with { Admins = [.. a.Admins, subject] }, cancellationToken);
    }

    /// <summary>Removes an admin; NotFound when <paramref name="subject"/> is not one.</summary>
    public ValueTask<AccessView> RemoveAdminAsync(ChangeContext who, string app, string subject, CancellationToken cancellationToken) =>
        ChangeAsync(who, app, "access.admin.remove", subject, a => a.Admins.Contains(subject)
            ? a with { Admins = [.. a.Admins.Where(s => s != subject)] }
            : throw new ConfigCenterException(ConfigErrorKind.NotFound, $"'{subject}' is not an admin of app '{app}'"), cancellationToken);

    /// <summary>Hands the app to another owner (a user name). The owner or root.</summary>
    public async ValueTask<AccessView> SetOwnerAsync(ChangeContext who, string app, string owner, CancellationToken cancellationToken)
    {
        ConfigCenterService.CheckAuthor(who);
        CheckUserName("owner", owner);
        for (var attempt = 0; ; attempt++)
        {
            var pins = await RequireOwnerAsync(who, app, "change the owner of", cancellationToken);
            var (record, revision, _) = await store.GetAsync<AppRecord>(ConfigKeys.App(app), cancellationToken);
            if (record is null)
            {
                throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{app}' does not exist");
            }

            var now = clock.GetUtcNow();
            var next = record with { Owner = owner };
            var (ok, _) = await store.CommitAsync(
                [.. pins, ConfigStore.ModifiedAt(ConfigKeys.App(app), revision)],
                [ConfigStore.Put(ConfigKeys.App(app), next), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "access.owner", app, $"{record.Owner} -> {owner}"))],
                cancellationToken);
            if (ok)
            {
                return await GetAsync(app, cancellationToken);
            }

            Retry(attempt, app);
        }
    }

    /// <summary>The center's settings (who may create apps).</summary>
    public async ValueTask<ConfigSettings> GetSettingsAsync(CancellationToken cancellationToken) =>
        (await store.GetAsync<ConfigSettings>(ConfigKeys.Settings(), cancellationToken)).Value ?? new ConfigSettings();

    /// <summary>Replaces the center's settings. Root only (or anyone while auth is disabled).</summary>
    public async ValueTask<ConfigSettings> SetSettingsAsync(ChangeContext who, ConfigSettings settings, CancellationToken cancellationToken)
    {
        ConfigCenterService.CheckAuthor(who);
        if (who.Enforced && !who.IsAdmin)
        {
            throw new ConfigCenterException(ConfigErrorKind.PermissionDenied, $"{who.Author} may not change the center's settings: only root may");
        }

        foreach (var subject in settings.AppCreators)
        {
            CheckSubject(subject);
        }

        if (settings.AuditRetentionDays is < 0 or > 36_500)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"auditRetentionDays {settings.AuditRetentionDays}: 0 (keep everything) to 36500");
        }

        var next = new ConfigSettings { AppCreators = [.. settings.AppCreators.Distinct(StringComparer.Ordinal)], AuditRetentionDays = settings.AuditRetentionDays };
        // Settings belong to no app: their audit entries go under "_center" (app names start with a letter or digit).
        var detail = $"appCreators=[{string.Join(",", next.AppCreators)}] auditRetentionDays={next.AuditRetentionDays}";
        await store.CommitAsync([], [ConfigStore.Put(ConfigKeys.Settings(), next), ConfigStore.Audit(CenterAudit, ConfigCenterService.Audit(who, clock.GetUtcNow(), "settings.set", "settings", detail))], cancellationToken);
        return next;
    }

    /// <summary>The access record a new app starts with: its creator as admin when someone else owns it.</summary>
    public static AppAccess Initial(string app, string owner, ChangeContext who) =>
        new() { App = app, Admins = owner == who.Author ? [] : [$"user:{who.Author}"] };

    private async ValueTask<AccessView> ChangeAsync(ChangeContext who, string app, string action, string detail, Func<AppAccess, AppAccess> change, CancellationToken cancellationToken)
    {
        ConfigCenterService.CheckAuthor(who);
        for (var attempt = 0; ; attempt++)
        {
            var pins = await RequireManagerAsync(who, app, "manage access", cancellationToken);
            var (record, access, current) = await ReadAsync(app, cancellationToken);
            var next = change(access);
            if (next.Admins.Count + next.Grants.Count > MaxEntries)
            {
                throw new ConfigCenterException(ConfigErrorKind.TooLarge, $"app '{app}' would have {next.Admins.Count + next.Grants.Count} admins and grants; the limit is {MaxEntries} (grant to roles instead of many users)");
            }

            var (ok, _) = await store.CommitAsync(
                [.. pins, .. current],
                [ConfigStore.Put(ConfigKeys.Access(app), next), ConfigStore.Audit(app, ConfigCenterService.Audit(who, clock.GetUtcNow(), action, app, detail))],
                cancellationToken);
            if (ok)
            {
                return await GetAsync(app, cancellationToken);
            }

            Retry(attempt, app);
        }
    }

    private static void Retry(int attempt, string app)
    {
        if (attempt >= 32)
        {
            throw new ConfigCenterException(ConfigErrorKind.Conflict, $"the access of app '{app}' kept changing; try again");
        }
    }

    private async ValueTask<(AppRecord Record, AppAccess Access, Compare[] Pins)> ReadAsync(string app, CancellationToken cancellationToken)
    {
        var (record, appRevision, _) = await store.GetAsync<AppRecord>(ConfigKeys.App(app), cancellationToken);
        if (record is null)
        {
            throw new ConfigCenterException(ConfigErrorKind.NotFound, $"app '{app}' does not exist");
        }

        var (access, accessRevision, _) = await store.GetAsync<AppAccess>(ConfigKeys.Access(app), cancellationToken);
        return (record, (access ?? new AppAccess { App = app }) with { Revision = accessRevision },
            [ConfigStore.ModifiedAt(ConfigKeys.App(app), appRevision), ConfigStore.ModifiedAt(ConfigKeys.Access(app), accessRevision)]);
    }

    /// <summary>
    /// Records that <paramref name="who"/> read the plaintext of <paramref name="app"/>/<paramref name="env"/>/<paramref name="ns"/>'s
    /// secrets (action <c>secret.reveal</c>); refuses, audited as <c>denied</c>, without the reveal permission. The record
    /// is written before the plaintext is handed out, and a reveal that cannot be recorded does not happen.
    /// </summary>
    internal async ValueTask AuditRevealAsync(ChangeContext who, string app, string env, string ns, string what, CancellationToken cancellationToken)
    {
        var target = $"{app}/{env}/{ns}";
        if (!await CanAsync(who, app, env, ns, ConfigPermission.Reveal, cancellationToken))
        {
            throw await DenyAsync(who, app, "secret.reveal", target, $"{who.Author} may not reveal the secrets of {target}: that needs the reveal permission");
        }

        var entry = ConfigCenterService.Audit(who, clock.GetUtcNow(), "secret.reveal", target, what);
        await store.CommitAsync([ConfigStore.Present(ConfigKeys.App(app))], [ConfigStore.Audit(app, entry)], cancellationToken);
    }

    private async ValueTask<ConfigCenterException> DenyAsync(ChangeContext who, string app, string action, string target, string message)
    {
        // The refusal is audited in a transaction of its own; a failure to write it must not turn the refusal into another error.
        try
        {
            var entry = ConfigCenterService.Audit(who, clock.GetUtcNow(), "denied", target, message);
            await store.CommitAsync([ConfigStore.Present(ConfigKeys.App(app))], [ConfigStore.Audit(app, entry)], CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Best effort: the caller still gets the refusal.
        }

        return new ConfigCenterException(ConfigErrorKind.PermissionDenied, message);
    }

    private static bool IsManager(ChangeContext who, AppRecord record, AppAccess access) =>
        record.Owner == who.Author || access.Admins.Any(who.Is);

    private static bool Granted(ChangeContext who, AppAccess access, string env, string ns, ConfigPermission permission) =>
        access.Grants.Any(g => g.Permission == permission && (g.Env == "*" || g.Env == env) && (g.Namespace == "*" || g.Namespace == ns) && who.Is(g.Subject));

    private void CheckGrant(AccessGrant grant)
    {
        CheckSubject(grant.Subject);
        if (!Enum.IsDefined(grant.Permission))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"permission '{grant.Permission}' is not one of edit, release, reveal");
        }

        if (grant.Env != "*")
        {
            ConfigNames.CheckName("environment", grant.Env, limits);
        }

        if (grant.Namespace != "*")
        {
            ConfigNames.CheckName("namespace", grant.Namespace, limits);
        }
    }

    /// <summary>Checks a subject: <c>user:NAME</c> or <c>role:NAME</c>.</summary>
    public static void CheckSubject(string? subject)
    {
        if (subject is null || !(subject.StartsWith("user:", StringComparison.Ordinal) || subject.StartsWith("role:", StringComparison.Ordinal)))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"subject '{subject}' is invalid: write user:NAME or role:NAME");
        }

        CheckUserName("subject", subject[5..]);
    }

    private static void CheckUserName(string field, string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128 || name.Any(char.IsControl))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"{field} name '{name}' is invalid: 1 to 128 characters, no control characters");
        }
    }

    private static string Describe(AccessGrant g) => $"{Name(g.Permission)} on {g.Env}/{g.Namespace} to {g.Subject}";

    private static string Name(ConfigPermission p) => p.ToString().ToLowerInvariant();

    private static string Verb(ConfigPermission p) => p switch
    {
        ConfigPermission.Edit => "edit",
        ConfigPermission.Release => "release",
        _ => "reveal the secrets of",
    };
}

/// <summary>An app's owner, admins and grants, and the revision of its access record (0: none yet).</summary>
public sealed record AccessView(string App, string Owner, IReadOnlyList<string> Admins, IReadOnlyList<AccessGrant> Grants, long Revision);

/// <summary>What the caller may do in one namespace (the console offers only these; the member checks anyway).</summary>
public sealed record NamespacePermissions(bool Edit, bool Release, bool Reveal, bool Manage);

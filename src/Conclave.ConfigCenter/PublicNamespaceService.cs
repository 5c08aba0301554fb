using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// Public namespaces, as in Apollo: a namespace created public can be associated by other apps in the same
/// environment under the same name; each association is the other app's own namespace whose releases hold overrides,
/// and clients get the base's effective release with those overrides applied (see <see cref="DeliveryService"/>).
/// </summary>
public sealed class PublicNamespaceService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ConfigAccess access = new(port, limits, clock);

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    /// <summary>
    /// Associates <paramref name="baseApp"/>'s public namespace <paramref name="ns"/> (same environment) with
    /// <paramref name="app"/>: creates <paramref name="app"/>'s own copy, whose working copy and releases hold overrides.
    /// Clients of <paramref name="app"/> get the base's effective release with the overrides applied (per key for
    /// properties; for other formats an own release replaces the base document).
    /// </summary>
    public async ValueTask<NamespaceRecord> AssociateNamespaceAsync(string app, string env, string ns, string baseApp, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        ConfigNames.CheckName("app", app, Limits);
        ConfigNames.CheckName("app", baseApp, Limits);
        ConfigNames.CheckName("environment", env, Limits);
        ConfigNames.CheckName("namespace", ns, Limits);
        if (app == baseApp)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"{app}/{env}/{ns} cannot associate its own namespace");
        }

        var pins = await access.RequireManagerAsync(who, app, "associate namespaces", cancellationToken);
        var source = await store.NamespaceAsync(baseApp, env, ns, cancellationToken);
        if (!source.IsPublic)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{baseApp}/{env}/{ns} is not public: only public namespaces can be associated");
        }

        var now = clock.GetUtcNow();
        var record = new NamespaceRecord { App = app, Env = env, Name = ns, Format = source.Format, BaseApp = baseApp, UpdatedAt = now, UpdatedBy = who.Author };
        var key = ConfigKeys.Namespace(app, env, ns);
        var baseKey = ConfigKeys.Namespace(baseApp, env, ns);
        // Rewriting the base unchanged moves its revision, so a delete of the base that read "no associations" fails.
        var (ok, revision) = await store.CommitAsync(
            [.. pins, ConfigStore.Present(ConfigKeys.Environment(app, env)), ConfigStore.Absent(key), ConfigStore.ModifiedAt(baseKey, source.Revision)],
            [ConfigStore.Put(key, record), ConfigStore.Put(baseKey, source), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "namespace.associate", $"{app}/{env}/{ns}", $"base {baseApp}"))],
            cancellationToken);
        if (ok)
        {
            return record with { Revision = revision };
        }

        await store.ThrowMissingAsync(app, env, null, cancellationToken);
        if ((await store.GetAsync<NamespaceRecord>(key, cancellationToken)).Value is not null)
        {
            throw new ConfigCenterException(ConfigErrorKind.AlreadyExists, $"namespace '{ns}' in {app}/{env} already exists");
        }

        throw new ConfigCenterException(ConfigErrorKind.Conflict, $"{baseApp}/{env}/{ns} changed during the association: try again");
    }

    /// <summary>The namespaces of other apps that associate <paramref name="app"/>'s public namespace <paramref name="ns"/>.</summary>
    public async ValueTask<IReadOnlyList<NamespaceRecord>> AssociationsAsync(string app, string env, string ns, CancellationToken cancellationToken = default) =>
        (await store.ListAsync<NamespaceRecord>(ConfigKeys.AllNamespaces(), cancellationToken))
            .Select(x => ConfigStore.NamespaceOf(x.Kv))
            .Where(n => n.BaseApp == app && n.Env == env && n.Name == ns)
            .ToList();
}

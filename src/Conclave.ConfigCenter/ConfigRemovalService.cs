using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// Deletes namespaces, environments and apps, each in one guarded transaction with its audit entry (audit entries
/// outlive what they describe). What is refused, and why:
/// <list type="bullet">
/// <item>a public namespace while other apps associate it;</item>
/// <item>a namespace while live instance records exist (instances are reporting or subscribed), unless forced:
/// deleting it sends nothing to them, they keep their last release, and the operator should know who still reads it;</item>
/// <item>an environment that still has namespaces, and an app that still has environments: delete from the bottom
/// up, so one command never removes more than its target names.</item>
/// </list>
/// A namespace's releases, history and instance records go with it; a namespace created again under the same name
/// starts at release 1.
/// </summary>
public sealed class ConfigRemovalService(IKeyValuePort port, TimeProvider? clock = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ConfigAccess access = new(port, clock: clock);

    public ValueTask DeleteNamespaceAsync(string app, string env, string ns, bool force, ChangeContext who, CancellationToken cancellationToken = default) =>
        DeleteNamespaceAsync(app, env, ns, force, 0, who, cancellationToken);

    /// <summary>
    /// Deletes a namespace; with <paramref name="expectedRevision"/> &gt; 0 only while it is still at that revision (409
    /// otherwise). Without <paramref name="force"/> it is refused while a gray release is running or instances report it.
    /// </summary>
    public async ValueTask DeleteNamespaceAsync(string app, string env, string ns, bool force, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        ConfigCenterService.CheckExpectedRevision(expectedRevision);
        var pins = await access.RequireManagerAsync(who, app, "delete namespaces", cancellationToken);
        var n = await store.NamespaceAsync(app, env, ns, cancellationToken);
        if (expectedRevision > 0 && n.Revision != expectedRevision)
        {
            throw new ConfigCenterException(ConfigErrorKind.Conflict, $"{app}/{env}/{ns} changed since revision {expectedRevision} (now {n.Revision}): read it again") { CurrentRevision = n.Revision };
        }

        if (n.Gray is { } gray && !force)
        {
            // The revision guard below catches a gray release started after this read.
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                $"{app}/{env}/{ns} has a gray release running (release {gray.ReleaseId}): promote or abandon it first, or delete with force");
        }
        if (n.IsPublic)
        {
            // Associating rewrites the base record, so the revision guard below catches an association made after this read.
            var associated = (await store.ListAsync<NamespaceRecord>(ConfigKeys.AllNamespaces(), cancellationToken))
                .Select(x => x.Value).Where(a => a.BaseApp == app && a.Env == env && a.Name == ns).Select(a => a.App).ToList();
            if (associated.Count > 0)
            {
                throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                    $"{app}/{env}/{ns} is public and associated by {string.Join(", ", associated)}: delete those associations first");
            }
        }

        var key = ConfigKeys.Namespace(app, env, ns);
        var instances = ConfigKeys.Instances(app, env, ns);
        var compares = new List<Api.Etcd.Compare>(pins) { ConfigStore.ModifiedAt(key, n.Revision) };
        if (!force)
        {
            compares.Add(ConfigStore.NoneUnder(instances));
        }

        var now = clock.GetUtcNow();
        var (ok, _) = await store.CommitAsync(
            compares,
            [
                ConfigStore.Delete(key),
                ConfigStore.DeleteUnder(ConfigKeys.Releases(app, env, ns)),
                ConfigStore.DeleteUnder(ConfigKeys.Histories(app, env, ns)),
                ConfigStore.DeleteUnder(ConfigKeys.Requests(app, env, ns)),
                ConfigStore.DeleteUnder(instances),
                ConfigStore.Delete(ConfigKeys.DataKeys(app, env, ns)),
                ConfigStore.Delete(ConfigKeys.Rollout(app, env, ns)),
                ConfigStore.Delete(ConfigKeys.FlagUsage(app, env, ns)),
                ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "namespace.delete", $"{app}/{env}/{ns}", force ? "forced" : "")),
            ],
            cancellationToken);
        if (ok)
        {
            return;
        }

        var live = force ? 0 : await store.CountAsync(instances, cancellationToken);
        if (live > 0)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition,
                $"{app}/{env}/{ns} still has {live} live instance record(s): instances read it; stop them or delete with force (they keep their last release)");
        }

        throw new ConfigCenterException(ConfigErrorKind.Conflict, $"{app}/{env}/{ns} changed while it was being deleted: try again");
    }

    public async ValueTask DeleteEnvironmentAsync(string app, string env, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var pins = await access.RequireManagerAsync(who, app, "delete environments", cancellationToken);
        var key = ConfigKeys.Environment(app, env);
        var namespaces = ConfigKeys.Namespaces(app, env);
        var now = clock.GetUtcNow();
        var (ok, _) = await store.CommitAsync(
            [.. pins, ConfigStore.Present(key), ConfigStore.NoneUnder(namespaces)],
            [ConfigStore.Delete(key), ConfigStore.DeleteUnder(ConfigKeys.Credentials(app, env)), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "env.delete", $"{app}/{env}"))],
            cancellationToken);
        if (ok)
        {
            return;
        }

        await store.ThrowMissingAsync(app, env, null, cancellationToken);
        var count = await store.CountAsync(namespaces, cancellationToken);
        throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"environment '{env}' of app '{app}' still has {count} namespace(s): delete them first");
    }

    public async ValueTask DeleteAppAsync(string app, ChangeContext who, CancellationToken cancellationToken = default)
    {
        ConfigCenterService.CheckAuthor(who);
        var pins = await access.RequireOwnerAsync(who, app, "delete", cancellationToken);
        var key = ConfigKeys.App(app);
        var environments = ConfigKeys.Environments(app);
        var now = clock.GetUtcNow();
        var (ok, _) = await store.CommitAsync(
            [.. pins, ConfigStore.Present(key), ConfigStore.NoneUnder(environments)],
            [ConfigStore.Delete(key), ConfigStore.Delete(ConfigKeys.Access(app)), .. Webhooks.WebhookService.DeleteAll(app), ConfigStore.Audit(app, ConfigCenterService.Audit(who, now, "app.delete", app))],
            cancellationToken);
        if (ok)
        {
            return;
        }

        await store.ThrowMissingAsync(app, null, null, cancellationToken);
        var count = await store.CountAsync(environments, cancellationToken);
        throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"app '{app}' still has {count} environment(s): delete them first");
    }
}

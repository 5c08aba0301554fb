using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Gray;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter;

/// <summary>
/// The client side of the center: the effective release per instance (gray rules resolved here), a stream of
/// changes to it, and delivery reports (tied to a lease) with the convergence query.
/// </summary>
public sealed class DeliveryService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    /// <summary>The release <paramref name="instanceId"/> should run; NoRelease when the namespace has none for it.</summary>
    public async ValueTask<EffectiveRelease> FetchAsync(string app, string env, string ns, string? instanceId, IReadOnlyCollection<string> labels, CancellationToken cancellationToken = default)
    {
        var n = await store.NamespaceAsync(app, env, ns, cancellationToken);
        return await ResolveAsync(n, instanceId, labels, cancellationToken)
            ?? throw new ConfigCenterException(ConfigErrorKind.NoRelease, $"{app}/{env}/{ns} has no release yet");
    }

    /// <summary>
    /// Streams the effective release of each namespace whenever it differs from what the instance has:
    /// first at once for any namespace whose effective release id is not <paramref name="lastSeen"/>'s, then on
    /// every publish, rollback or gray change. The state is re-read on each change, so a reconnect (or a
    /// compacted watch) never misses the latest release.
    /// </summary>
    public async IAsyncEnumerable<EffectiveRelease> SubscribeAsync(
        string app, string env, IReadOnlyCollection<string> namespaces, string? instanceId, IReadOnlyCollection<string> labels,
        IReadOnlyDictionary<string, long> lastSeen, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var seen = new Dictionary<string, long>(lastSeen, StringComparer.Ordinal);
        var wanted = new HashSet<string>(namespaces, StringComparer.Ordinal);
        var revision = 0L;
        foreach (var ns in wanted)
        {
            var n = await store.NamespaceAsync(app, env, ns, cancellationToken);
            revision = Math.Max(revision, n.Revision);
        }

        while (true)
        {
            // Level-triggered: read the heads now, then watch from the revision after the read.
            var range = await port.RangeAsync(new RangeRequest { Key = ConfigKeys.Namespaces(app, env), RangeEnd = ConfigKeys.PrefixEnd(ConfigKeys.Namespaces(app, env)) }, cancellationToken);
            revision = range.Header.Revision;
            foreach (var kv in range.Kvs)
            {
                var n = ConfigJson.Decode<NamespaceRecord>(kv.Value);
                if (wanted.Contains(n.Name) && await ResolveAsync(n, instanceId, labels, cancellationToken) is { } effective
                    && (!seen.TryGetValue(n.Name, out var had) || had != effective.Release.Id))
                {
                    seen[n.Name] = effective.Release.Id;
                    yield return effective;
                }
            }

            var compacted = false;
            await using var changes = port.WatchAsync(ConfigKeys.Namespaces(app, env), revision + 1, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                KeyspaceChange change;
                try
                {
                    if (!await changes.MoveNextAsync())
                    {
                        yield break;
                    }

                    change = changes.Current;
                }
                catch (KeyspaceCompactedException)
                {
                    compacted = true;
                    break;
                }

                foreach (var e in change.Events)
                {
                    if (e.Type != Api.Mvcc.Event.Types.EventType.Put)
                    {
                        continue;
                    }

                    var n = ConfigJson.Decode<NamespaceRecord>(e.Kv.Value);
                    if (wanted.Contains(n.Name) && await ResolveAsync(n, instanceId, labels, cancellationToken) is { } effective
                        && (!seen.TryGetValue(n.Name, out var had) || had != effective.Release.Id))
                    {
                        seen[n.Name] = effective.Release.Id;
                        yield return effective;
                    }
                }
            }

            if (!compacted)
            {
                yield break;
            }
        }
    }

    /// <summary>Records what an instance applied or rejected; the record lives as long as the instance keeps reporting.</summary>
    public async ValueTask<InstanceRecord> ReportAsync(string app, string env, string ns, string instanceId, IReadOnlyList<string> labels, long releaseId, DeliveryStatus status, string? reason, string? from, CancellationToken cancellationToken = default)
    {
        ConfigNames.CheckInstanceId(instanceId, Limits);
        foreach (var label in labels)
        {
            ConfigNames.CheckLabel(label);
        }

        if (reason is { Length: > 1024 })
        {
            reason = reason[..1024];
        }

        var key = ConfigKeys.Instance(app, env, ns, instanceId);
        var nsKey = ConfigKeys.Namespace(app, env, ns);
        var (existing, _, _) = await store.GetAsync<InstanceRecord>(key, cancellationToken);
        var lease = existing is { LeaseId: > 0 } && await port.KeepAliveAsync(existing.LeaseId, cancellationToken)
            ? existing.LeaseId
            : await port.GrantLeaseAsync(Limits.InstanceLeaseSeconds, cancellationToken);
        var record = new InstanceRecord
        {
            InstanceId = instanceId, Labels = labels, ReleaseId = releaseId, Status = status, Reason = reason,
            ReportedAt = clock.GetUtcNow(), From = from, LeaseId = lease,
        };
        var (ok, _) = await store.CommitAsync([ConfigStore.Present(nsKey)], [ConfigStore.Put(key, record, lease)], cancellationToken);
        if (!ok)
        {
            await store.ThrowMissingAsync(app, env, ns, cancellationToken);
        }

        return record;
    }

    public async ValueTask<IReadOnlyList<InstanceRecord>> InstancesAsync(string app, string env, string ns, CancellationToken cancellationToken = default)
    {
        await store.NamespaceAsync(app, env, ns, cancellationToken);
        return (await store.ListAsync<InstanceRecord>(ConfigKeys.Instances(app, env, ns), cancellationToken)).Select(x => x.Value).ToList();
    }

    /// <summary>How many live instances applied release <paramref name="releaseId"/> (the main release when 0), by release, and who rejected it.</summary>
    public async ValueTask<Convergence> ConvergenceAsync(string app, string env, string ns, long releaseId = 0, CancellationToken cancellationToken = default)
    {
        var n = await store.NamespaceAsync(app, env, ns, cancellationToken);
        var target = releaseId > 0 ? releaseId : n.HeadReleaseId;
        var instances = await InstancesAsync(app, env, ns, cancellationToken);
        var byRelease = instances.Where(i => i.Status == DeliveryStatus.Applied).GroupBy(i => i.ReleaseId).ToDictionary(g => g.Key, g => g.Count());
        return new Convergence(
            target,
            instances.Count,
            byRelease.GetValueOrDefault(target),
            byRelease,
            instances.Where(i => i.Status == DeliveryStatus.Rejected && i.ReleaseId == target).ToList());
    }

    private async ValueTask<EffectiveRelease?> ResolveAsync(NamespaceRecord n, string? instanceId, IReadOnlyCollection<string> labels, CancellationToken cancellationToken)
    {
        if (n.Gray is { } gray && GrayCohort.Matches(gray.Rule, n.App, n.Name, instanceId, labels)
            && await store.ReleaseAsync(n.App, n.Env, n.Name, gray.ReleaseId, cancellationToken) is { } grayRelease)
        {
            return new EffectiveRelease(grayRelease, true);
        }

        return await store.ReleaseAsync(n.App, n.Env, n.Name, n.HeadReleaseId, cancellationToken) is { } head
            ? new EffectiveRelease(head, false)
            : null;
    }
}

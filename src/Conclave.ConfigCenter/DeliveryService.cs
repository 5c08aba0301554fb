using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Google.Protobuf;
using Conclave.ConfigCenter.Gray;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;

namespace Conclave.ConfigCenter;

/// <summary>
/// The client side of the center: the effective release per instance (gray rules resolved here), a stream of
/// changes to it, and delivery reports (tied to a lease) with the convergence query. What it delivers is plaintext:
/// sealed secrets are opened here, on the member that serves the client, with the master key of <paramref name="masterKeys"/>.
/// </summary>
public sealed partial class DeliveryService(IKeyValuePort port, ConfigLimits? limits = null, TimeProvider? clock = null, IMasterKeyProvider? masterKeys = null)
{
    private readonly ConfigStore store = new(port);
    private readonly TimeProvider clock = clock ?? TimeProvider.System;
    private readonly ReleaseCache releases = new(new ConfigStore(port));
    private readonly NamespaceSecrets secrets = new(new ConfigStore(port), masterKeys, clock);
    private readonly NamespaceChangeHub hub = new(port);

    /// <summary>
    /// How many times a subscription was handed a change of a namespace record it watches (its own namespaces and the
    /// public ones they associate); a change of any other app's records hands nothing to it. For tests and diagnostics.
    /// </summary>
    public long SubscriptionWakeups => hub.Dispatched;

    /// <summary>How many namespace records the subscriptions decoded: once per record version however many watch it. For tests.</summary>
    public long NamespaceRecordsDecoded => Interlocked.Read(ref namespaceRecordsDecoded);

    private long namespaceRecordsDecoded;

    public ConfigLimits Limits { get; } = limits ?? new ConfigLimits();

    // A change of a namespace record reaches every subscription that watches it, often thousands, each of which needs the
    // record decoded; the record carries the working copy (a whole document), so decoding it once per subscription cost
    // more than sending the release (0.2 ms each for a 12 KB flags document). Decoded once per (key, revision), shared:
    // the delivery path only reads records.
    private readonly ConcurrentDictionary<(ByteString Key, long Revision), Lazy<NamespaceRecord>> decodedNamespaces = new();

    private const int MaxDecodedNamespaces = 1_024;

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
    /// compacted watch) never misses the latest release. While the stream is open, the leases of the instance's
    /// delivery records are renewed, so a connected instance stays listed without reporting again, and its
    /// records vanish one lease lifetime after it goes away.
    /// </summary>
    public async IAsyncEnumerable<EffectiveRelease> SubscribeAsync(
        string app, string env, IReadOnlyCollection<string> namespaces, string? instanceId, IReadOnlyCollection<string> labels,
        IReadOnlyDictionary<string, long> lastSeen, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var seen = new Dictionary<string, long>(lastSeen, StringComparer.Ordinal);
        var wanted = new HashSet<string>(namespaces, StringComparer.Ordinal);
        foreach (var ns in wanted)
        {
            await store.NamespaceAsync(app, env, ns, cancellationToken);
        }

        using var stopRenewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = string.IsNullOrEmpty(instanceId)
            ? Task.CompletedTask
            : RenewInstanceLeasesAsync(app, env, [.. wanted], instanceId, stopRenewal.Token);
        try
        {
            await foreach (var effective in ChangesAsync(app, env, wanted, instanceId, labels, seen, cancellationToken))
            {
                yield return effective;
            }
        }
        finally
        {
            await stopRenewal.CancelAsync();
            await renewal;
        }
    }

    private async IAsyncEnumerable<EffectiveRelease> ChangesAsync(
        string app, string env, HashSet<string> wanted, string? instanceId, IReadOnlyCollection<string> labels,
        Dictionary<string, long> seen, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Only the records this subscriber needs reach it: its own namespace records, and the public namespaces they
        // associate (which change as associations are added or removed). The hub's one watch hands over their changes.
        var own = wanted.ToDictionary(ns => ConfigKeys.Namespace(app, env, ns), ns => ns);
        var bases = new Dictionary<ByteString, string>();
        using var interest = await hub.JoinAsync(cancellationToken);
        foreach (var key in own.Keys)
        {
            interest.Watch(key);
        }

        IReadOnlyList<KeyValue> changed = [];
        var resync = true;
        while (true)
        {
            if (resync)
            {
                // Level-triggered: read the heads now (after the keys are watched, so no later change is missed).
                var range = await port.RangeAsync(new RangeRequest { Key = ConfigKeys.Namespaces(app, env), RangeEnd = ConfigKeys.PrefixEnd(ConfigKeys.Namespaces(app, env)) }, cancellationToken);
                foreach (var kv in range.Kvs)
                {
                    if (own.ContainsKey(kv.Key))
                    {
                        interest.Seen(kv.Key, kv.ModRevision);
                        var n = DecodeShared(kv);
                        Track(n);
                        if (await ChangedAsync(n, null) is { } effective)
                        {
                            yield return effective;
                        }
                    }
                }
            }

            // After a resync the read above covers every change taken with it (they were dispatched before it was made).
            foreach (var kv in resync ? [] : changed)
            {
                EffectiveRelease? effective = null;
                if (own.ContainsKey(kv.Key))
                {
                    interest.Seen(kv.Key, kv.ModRevision);
                    var n = DecodeShared(kv);
                    Track(n);
                    effective = await ChangedAsync(n, null);
                }
                else if (bases.TryGetValue(kv.Key, out var name) && await TryNamespaceKvAsync(app, env, name, cancellationToken) is { } ownKv)
                {
                    // The association's own record as it is now: it may have changed (or dropped this base) meanwhile.
                    interest.Seen(ownKv.Key, ownKv.ModRevision);
                    var associated = DecodeShared(ownKv);
                    Track(associated);
                    if (bases.ContainsKey(kv.Key))
                    {
                        interest.Seen(kv.Key, kv.ModRevision);
                        effective = await ChangedAsync(associated, DecodeShared(kv));
                    }
                    else
                    {
                        effective = await ChangedAsync(associated, null);
                    }
                }

                if (effective is not null)
                {
                    yield return effective;
                }
            }

            (changed, resync, var ended) = await interest.TakeAsync(cancellationToken);
            if (ended)
            {
                yield break;
            }
        }

        void Track(NamespaceRecord n)
        {
            ByteString? wantedBase = n.BaseApp is { } baseApp ? ConfigKeys.Namespace(baseApp, env, n.Name) : null;
            foreach (var stale in bases.Where(b => b.Value == n.Name && b.Key != wantedBase).Select(b => b.Key).ToList())
            {
                bases.Remove(stale);
                interest.Unwatch(stale);
            }

            if (wantedBase is not null)
            {
                bases[wantedBase] = n.Name;
                interest.Watch(wantedBase);
            }
        }

        async ValueTask<EffectiveRelease?> ChangedAsync(NamespaceRecord n, NamespaceRecord? knownBase)
        {
            if (n.BaseApp is { } baseApp && knownBase is null && await TryNamespaceKvAsync(baseApp, env, n.Name, cancellationToken) is { } baseKv)
            {
                // Read after the base key is watched: its later changes come through the hub, older ones are dropped.
                interest.Seen(baseKv.Key, baseKv.ModRevision);
                knownBase = DecodeShared(baseKv);
            }

            if (await ResolveAsync(n, instanceId, labels, cancellationToken, knownBase) is { } effective
                && (!seen.TryGetValue(n.Name, out var had) || had != effective.Release.Id))
            {
                seen[n.Name] = effective.Release.Id;
                return effective;
            }

            return null;
        }
    }

    private NamespaceRecord DecodeShared(KeyValue kv)
    {
        var key = (kv.Key, kv.ModRevision);
        if (decodedNamespaces.TryGetValue(key, out var known))
        {
            return known.Value;
        }

        if (decodedNamespaces.Count >= MaxDecodedNamespaces)
        {
            decodedNamespaces.Clear(); // a bound, not an LRU: the next subscriber to need one decodes it again
        }

        // Subscriptions woken by the same change race here: the Lazy makes exactly one of them decode.
        return decodedNamespaces.GetOrAdd(key, _ => new Lazy<NamespaceRecord>(() =>
        {
            Interlocked.Increment(ref namespaceRecordsDecoded);
            return ConfigStore.NamespaceOf(kv);
        })).Value;
    }

    /// <summary>Records what an instance applied or rejected; the record lives as long as the instance keeps reporting.</summary>
    public ValueTask<InstanceRecord> ReportAsync(string app, string env, string ns, string instanceId, IReadOnlyList<string> labels, long releaseId, DeliveryStatus status, string? reason, string? from, CancellationToken cancellationToken = default) =>
        ReportAsync(app, env, ns, instanceId, labels, releaseId, status, reason, from, [], cancellationToken);

    /// <summary>
    /// Records what an instance applied or rejected and, for a flags namespace, how often it served each flag's variants
    /// (<paramref name="flagEvaluations"/>: totals kept with the record; a flag with recent evaluations is marked used today).
    /// </summary>
    public async ValueTask<InstanceRecord> ReportAsync(string app, string env, string ns, string instanceId, IReadOnlyList<string> labels, long releaseId, DeliveryStatus status, string? reason, string? from, IReadOnlyList<FlagEvaluationCount> flagEvaluations, CancellationToken cancellationToken = default)
    {
        var totals = CheckFlagEvaluations(flagEvaluations);
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
        // An instance that reported before keeps its lease: renewed, no new one, and no read of the namespace (the commit
        // below still requires it). Otherwise the namespace first: a lease granted for a report that is then refused would
        // stay behind for its whole TTL, and reports naming namespaces that do not exist could fill the lease table. (A
        // namespace deleted between this check and the commit below still leaves one lease, which expires.)
        // The usual report (applied, by an instance that reported through this member before) reads nothing: the lease
        // this member last wrote the record with is renewed and the record written over. A rejection reads the record,
        // to audit only a new one.
        InstanceRecord? existing = null;
        long lease;
        if (status != DeliveryStatus.Rejected && knownLeases.TryGetValue(key, out var known) && await port.KeepAliveAsync(known, cancellationToken))
        {
            lease = known;
        }
        else if ((existing = (await store.GetAsync<InstanceRecord>(key, cancellationToken)).Value) is { LeaseId: > 0 }
            && await port.KeepAliveAsync(existing.LeaseId, cancellationToken))
        {
            lease = existing.LeaseId;
        }
        else
        {
            await store.NamespaceAsync(app, env, ns, cancellationToken);
            lease = await port.GrantLeaseAsync(Limits.InstanceLeaseSeconds, cancellationToken);
        }

        var record = new InstanceRecord
        {
            InstanceId = instanceId, Labels = labels, ReleaseId = releaseId, Status = status, Reason = reason,
            ReportedAt = clock.GetUtcNow(), From = from, LeaseId = lease, FlagEvaluations = totals,
        };
        List<RequestOp> writes = [ConfigStore.Put(key, record, lease)];
        if (status == DeliveryStatus.Rejected && (existing is null || existing.Status != DeliveryStatus.Rejected || existing.ReleaseId != releaseId))
        {
            // A new rejection (not a repeated report of the same one) is audited, which is also what webhooks see (ADR 0016).
            var who = new ChangeContext($"instance:{instanceId}", from);
            writes.Add(ConfigStore.Audit(app, ConfigCenterService.Audit(who, record.ReportedAt, "instance.reject", $"{app}/{env}/{ns}", $"instance {instanceId} rejected release {releaseId}: {reason ?? ""}")));
        }

        var (ok, _) = await store.CommitAsync([ConfigStore.Present(nsKey)], writes, cancellationToken);
        if (!ok)
        {
            knownLeases.TryRemove(key, out _);
            await store.ThrowMissingAsync(app, env, ns, cancellationToken);
        }

        if (!knownLeases.ContainsKey(key) && Interlocked.Increment(ref knownLeasesAdded) % MaxKnownLeases == 0)
        {
            knownLeases.Clear(); // a bound, not an LRU: an instance not remembered reads its record once more
        }

        knownLeases[key] = lease;
        ConfigCenterMetrics.Reported(status);
        await NoteFlagsEvaluatedAsync(app, env, ns, flagEvaluations, cancellationToken);
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
        var target = releaseId > 0 ? releaseId
            : n.BaseApp is { } baseApp ? AssociatedRelease.Id((await TryNamespaceAsync(baseApp, env, ns, cancellationToken))?.HeadReleaseId ?? 0, n.HeadReleaseId)
            : n.HeadReleaseId;
        var instances = await InstancesAsync(app, env, ns, cancellationToken);
        var byRelease = instances.Where(i => i.Status == DeliveryStatus.Applied).GroupBy(i => i.ReleaseId).ToDictionary(g => g.Key, g => g.Count());
        return new Convergence(
            target,
            instances.Count,
            byRelease.GetValueOrDefault(target),
            byRelease,
            instances.Where(i => i.Status == DeliveryStatus.Rejected && i.ReleaseId == target).ToList());
    }

    /// <summary>
    /// Renews the leases of <paramref name="instanceId"/>'s delivery records every third of their lifetime until
    /// cancelled. Best effort: a failed round is retried at the next; a record not written yet (no report so far) is
    /// picked up once it exists.
    /// </summary>
    private async Task RenewInstanceLeasesAsync(string app, string env, IReadOnlyList<string> namespaces, string instanceId, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, Limits.InstanceLeaseSeconds) / 3.0);
        try
        {
            while (true)
            {
                await Task.Delay(interval, clock, cancellationToken);
                foreach (var ns in namespaces)
                {
                    try
                    {
                        var (record, _, _) = await store.GetAsync<InstanceRecord>(ConfigKeys.Instance(app, env, ns, instanceId), cancellationToken);
                        if (record is { LeaseId: > 0 })
                        {
                            await port.KeepAliveAsync(record.LeaseId, cancellationToken);
                        }
                    }
                    catch (Exception) when (!cancellationToken.IsCancellationRequested)
                    {
                        // A leader change or a busy member: the next round tries again, well within the lease.
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The release <paramref name="instanceId"/> should run for <paramref name="n"/>; for an association, the base's
    /// effective release with <paramref name="n"/>'s own effective release applied over it (<see cref="AssociatedRelease"/>).
    /// </summary>
    private async ValueTask<EffectiveRelease?> ResolveAsync(NamespaceRecord n, string? instanceId, IReadOnlyCollection<string> labels, CancellationToken cancellationToken, NamespaceRecord? knownBase = null)
    {
        if (n.BaseApp is not { } baseApp)
        {
            return await ResolveOwnAsync(n, instanceId, labels, cancellationToken);
        }

        var baseRecord = knownBase ?? await TryNamespaceAsync(baseApp, n.Env, n.Name, cancellationToken);
        var baseEffective = baseRecord is null ? null : await ResolveOwnAsync(baseRecord, instanceId, labels, cancellationToken);
        return AssociatedRelease.Merge(n, baseEffective, await ResolveOwnAsync(n, instanceId, labels, cancellationToken));
    }

    private async ValueTask<NamespaceRecord?> TryNamespaceAsync(string app, string env, string ns, CancellationToken cancellationToken) =>
        await TryNamespaceKvAsync(app, env, ns, cancellationToken) is { } kv ? ConfigStore.NamespaceOf(kv) : null;

    private async ValueTask<KeyValue?> TryNamespaceKvAsync(string app, string env, string ns, CancellationToken cancellationToken) =>
        (await port.RangeAsync(new RangeRequest { Key = ConfigKeys.Namespace(app, env, ns) }, cancellationToken)).Kvs.FirstOrDefault();

    private async ValueTask<EffectiveRelease?> ResolveOwnAsync(NamespaceRecord n, string? instanceId, IReadOnlyCollection<string> labels, CancellationToken cancellationToken)
    {
        if (n.Gray is { } gray && GrayCohort.Matches(gray.Rule, n.App, n.Name, instanceId, labels)
            && await releases.GetAsync(n, gray.ReleaseId, cancellationToken) is { } grayRelease)
        {
            return new EffectiveRelease(await OpenAsync(n, grayRelease, cancellationToken), true);
        }

        return await releases.GetAsync(n, n.HeadReleaseId, cancellationToken) is { } head
            ? new EffectiveRelease(await OpenAsync(n, head, cancellationToken), false)
            : null;
    }

    /// <summary>
    /// The release with its secrets opened; a clear refusal when they do not open here. A release never changes, so its
    /// opened copy is kept (at most <see cref="MaxOpened"/>, keyed like the sealed cache) instead of reading the data key,
    /// unwrapping it and opening every value again for each delivery: that cost 1.8 ms of member CPU per fetch of a
    /// 200-secret namespace (docs/config-center.md, benchmark). The plaintext lives in the member's memory either way.
    /// </summary>
    private async ValueTask<ReleaseRecord> OpenAsync(NamespaceRecord n, ReleaseRecord release, CancellationToken cancellationToken)
    {
        if (!NamespaceSecrets.HasSecrets(release))
        {
            return release;
        }

        var key = (n.App, n.Env, n.Name, n.CreateRevision, release.Id);
        if (opened.TryGetValue(key, out var hit))
        {
            return hit;
        }

        var view = NamespaceSecrets.View(release, await secrets.ForReadAsync(n, cancellationToken));
        if (Interlocked.Increment(ref openedAdded) % MaxOpened == 0)
        {
            opened.Clear(); // a bound, not an LRU: releases in use are opened again on their next delivery
        }

        opened[key] = view;
        return view;
    }

    private const int MaxOpened = 1024;
    private const int MaxKnownLeases = 100_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ByteString, long> knownLeases = new();
    private long knownLeasesAdded;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string App, string Env, string Ns, long Created, long Id), ReleaseRecord> opened = new();
    private long openedAdded;
}

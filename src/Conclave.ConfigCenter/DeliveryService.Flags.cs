using System.Collections.Concurrent;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Flags;

namespace Conclave.ConfigCenter;

/// <summary>
/// Evaluation insight (docs/feature-flags.md): instances report how often they served each variant with their delivery
/// reports; the totals live in the instance records (and vanish with them), the day each flag was last used lives in one
/// record per namespace so that staleness survives restarts of the fleet.
/// </summary>
public sealed partial class DeliveryService
{
    /// <summary>The most entries one report may carry (1,000 flags of a document, a few variants each served).</summary>
    public const int MaxFlagEvaluationEntries = 4_096;

    /// <summary>
    /// The most characters of flag and variant names one instance record keeps (a thousand flags with a couple of
    /// variants each); entries past it are left out of the record, in the order sent (clients send the most used first).
    /// Bounds what many instances' records can take of the keyspace: 4,096 maximal entries would be ~800 KB each.
    /// </summary>
    public const int MaxFlagEvaluationNameChars = 64 * 1024;

    /// <summary>The most flags a namespace's usage record keeps: a document holds at most 1,000, renamed ones age out.</summary>
    public const int MaxFlagUsageEntries = 2_000;

    private const int MaxKnownUsage = 10_000;

    // Per namespace, the days this member knows are recorded: a report whose flags were all recorded today writes nothing.
    private readonly ConcurrentDictionary<(string App, string Env, string Ns), Dictionary<string, DateTimeOffset>> knownUsage = new();

    /// <summary>The fleet's use of the flags of the namespace's main release; flags unused for <paramref name="staleDays"/> days are stale.</summary>
    public async ValueTask<FlagUsageReport> FlagUsageAsync(string app, string env, string ns, int staleDays = 7, CancellationToken cancellationToken = default)
    {
        if (staleDays is < 1 or > 3650)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "staleDays must be between 1 and 3650");
        }

        var n = await store.NamespaceAsync(app, env, ns, cancellationToken);
        if (n.Format != NamespaceFormat.Flags)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{app}/{env}/{ns} is a {n.Format.ToString().ToLowerInvariant()} namespace, not a flags namespace");
        }

        var release = await releases.GetAsync(n, n.HeadReleaseId, cancellationToken);
        if (release is null)
        {
            return new FlagUsageReport(0, staleDays, []);
        }

        FlagSet flags;
        try
        {
            flags = FlagSet.Parse(release.Content);
        }
        catch (FlagDocumentException e)
        {
            // Only a release written by a build with other rules could fail here: say so rather than guess.
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"release {release.Id} of {app}/{env}/{ns} does not parse as flags: {e.Message}");
        }

        var instances = await InstancesAsync(app, env, ns, cancellationToken);
        var usage = (await store.GetAsync<FlagUsageRecord>(ConfigKeys.FlagUsage(app, env, ns), cancellationToken)).Value;
        var today = Today();
        var cutoff = today.AddDays(-staleDays);
        var result = new List<FlagUsage>(flags.Flags.Count);
        foreach (var name in flags.Flags.Keys.Order(StringComparer.Ordinal))
        {
            var variants = new SortedDictionary<string, long>(StringComparer.Ordinal);
            var evaluating = 0;
            foreach (var instance in instances)
            {
                var counted = false;
                foreach (var entry in instance.FlagEvaluations ?? [])
                {
                    if (string.Equals(entry.Flag, name, StringComparison.Ordinal))
                    {
                        variants[entry.Variant] = variants.GetValueOrDefault(entry.Variant) + entry.Total;
                        counted = true;
                    }
                }

                evaluating += counted ? 1 : 0;
            }

            DateTimeOffset? last = usage?.LastEvaluated.TryGetValue(name, out var day) == true ? day : null;
            var stale = last is { } d ? d < cutoff : release.CreatedAt < cutoff;
            result.Add(new FlagUsage(name, variants, evaluating, last, stale));
        }

        return new FlagUsageReport(release.Id, staleDays, result);
    }

    private static List<FlagEvaluationTotal>? CheckFlagEvaluations(IReadOnlyList<FlagEvaluationCount> entries)
    {
        if (entries.Count == 0)
        {
            return null;
        }

        if (entries.Count > MaxFlagEvaluationEntries)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a report may carry at most {MaxFlagEvaluationEntries} flag evaluation counts, not {entries.Count}");
        }

        var totals = new List<FlagEvaluationTotal>(entries.Count);
        var chars = 0;
        foreach (var e in entries)
        {
            if (e.Flag is not { Length: > 0 and <= 128 } || e.Variant is not { Length: > 0 and <= 64 } || e.Total < 0 || e.Recent < 0 || e.Recent > e.Total)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument,
                    "a flag evaluation count names a flag (1-128 characters) and a variant (1-64) with a total and a recent count, 0 <= recent <= total");
            }

            chars += e.Flag.Length + e.Variant.Length;
            if (chars <= MaxFlagEvaluationNameChars)
            {
                totals.Add(new FlagEvaluationTotal(e.Flag, e.Variant, e.Total));
            }
        }

        return totals;
    }

    /// <summary>Marks the flags with recent evaluations as used today: at most one write per flag and day on this member, best effort.</summary>
    private async ValueTask NoteFlagsEvaluatedAsync(string app, string env, string ns, IReadOnlyList<FlagEvaluationCount> entries, CancellationToken cancellationToken)
    {
        var today = Today();
        var at = (app, env, ns);
        var known = knownUsage.GetValueOrDefault(at);
        List<string>? used = null;
        foreach (var e in entries)
        {
            if (e.Recent > 0 && (known is null || !known.TryGetValue(e.Flag, out var day) || day < today) && !(used?.Contains(e.Flag) ?? false))
            {
                (used ??= []).Add(e.Flag);
            }
        }

        if (used is null)
        {
            return;
        }

        var key = ConfigKeys.FlagUsage(app, env, ns);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (record, revision, _) = await store.GetAsync<FlagUsageRecord>(key, cancellationToken);
            var days = new Dictionary<string, DateTimeOffset>(record?.LastEvaluated ?? [], StringComparer.Ordinal);
            var changed = false;
            foreach (var flag in used)
            {
                if (!days.TryGetValue(flag, out var day) || day < today)
                {
                    days[flag] = today;
                    changed = true;
                }
            }

            if (changed)
            {
                foreach (var old in days.OrderBy(d => d.Value).Take(Math.Max(0, days.Count - MaxFlagUsageEntries)).Select(d => d.Key).ToList())
                {
                    days.Remove(old);
                }

                var guard = revision > 0 ? ConfigStore.ModifiedAt(key, revision) : ConfigStore.Absent(key);
                var (ok, _) = await store.CommitAsync(
                    [guard, ConfigStore.Present(ConfigKeys.Namespace(app, env, ns))],
                    [ConfigStore.Put(key, new FlagUsageRecord { LastEvaluated = days })],
                    cancellationToken);
                if (!ok)
                {
                    continue; // another member or report wrote it meanwhile (or the namespace went away): read again
                }
            }

            if (knownUsage.Count >= MaxKnownUsage)
            {
                knownUsage.Clear(); // a bound, not an LRU: a namespace not remembered reads its record once more
            }

            knownUsage[at] = days;
            return;
        }
    }

    private DateTimeOffset Today() => new(clock.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);
}

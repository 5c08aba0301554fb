using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Conclave.Client;
using Conclave.Flags;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Counts a provider's flag evaluations per flag and variant for the center's evaluation insight (docs/feature-flags.md).
/// The hot path is one lookup keyed by object identity (the flag's definition and the variant string it chose, both
/// owned by the immutable <see cref="FlagSet"/>) and one interlocked add: no string hashing, no allocation once a pair
/// was seen. <see cref="Harvest"/> turns the counts into named totals and "since the last report" counts per namespace.
/// </summary>
internal sealed class FlagEvaluationCounter
{
    /// <summary>The most entries one report carries (the member refuses more).</summary>
    public const int MaxEntries = 4_096;

    private readonly ConcurrentDictionary<(FlagDefinition Flag, string Variant), StrongBox<long>> live = new(IdentityComparer.Instance);
    private readonly Lock gate = new();

    // Harvested counts by name: totals since start, and counts not yet reported.
    private readonly Dictionary<(string Flag, string Variant), (long Total, long Recent)> named = [];

    public void Count(FlagDefinition flag, string variant)
    {
        if (!live.TryGetValue((flag, variant), out var box))
        {
            box = live.GetOrAdd((flag, variant), static _ => new StrongBox<long>());
        }

        Interlocked.Increment(ref box.Value);
    }

    /// <summary>
    /// The counts of the flags <paramref name="flags"/> says <paramref name="ns"/> owns, and resets their "recent" part.
    /// Counts of flags no longer in the set are dropped. Null when there is nothing to report for the namespace.
    /// </summary>
    public List<FlagEvaluationCount>? Harvest(string ns, MergedFlags flags)
    {
        lock (gate)
        {
            foreach (var (key, box) in live)
            {
                var n = Interlocked.Exchange(ref box.Value, 0);
                var current = flags.Set.Flags.TryGetValue(key.Flag.Name, out var now) && ReferenceEquals(now, key.Flag);
                if (!current)
                {
                    // A definition a newer release replaced: its last counts still count, then it is forgotten.
                    live.TryRemove(key, out _);
                }

                if (n > 0)
                {
                    var name = (key.Flag.Name, key.Variant);
                    var (total, recent) = named.GetValueOrDefault(name);
                    named[name] = (total + n, recent + n);
                }
            }

            List<FlagEvaluationCount>? result = null;
            foreach (var (name, counts) in named.Where(e => !flags.Owners.ContainsKey(e.Key.Flag)).ToList())
            {
                named.Remove(name); // a flag no release defines any more
            }

            foreach (var ((flag, variant), (total, recent)) in named)
            {
                if (flags.Owners.TryGetValue(flag, out var owner) && string.Equals(owner, ns, StringComparison.Ordinal))
                {
                    (result ??= []).Add(new FlagEvaluationCount(flag, variant, total, recent));
                }
            }

            if (result is null)
            {
                return null;
            }

            // Most used first, so the bound drops the least used, then reset what is being reported.
            result.Sort(static (a, b) => b.Recent != a.Recent ? b.Recent.CompareTo(a.Recent) : b.Total.CompareTo(a.Total));
            if (result.Count > MaxEntries)
            {
                result.RemoveRange(MaxEntries, result.Count - MaxEntries);
            }

            foreach (var e in result)
            {
                named[(e.Flag, e.Variant)] = (e.Total, 0);
            }

            return result;
        }
    }

    /// <summary>Puts the "recent" counts of a report that failed back, so the next report carries them.</summary>
    public void Restore(IEnumerable<FlagEvaluationCount> unsent)
    {
        lock (gate)
        {
            foreach (var e in unsent)
            {
                if (named.TryGetValue((e.Flag, e.Variant), out var counts))
                {
                    named[(e.Flag, e.Variant)] = (counts.Total, counts.Recent + e.Recent);
                }
            }
        }
    }

    /// <summary>Whether any evaluation happened since the last harvest (the periodic report is skipped otherwise).</summary>
    public bool HasRecent
    {
        get
        {
            foreach (var (_, box) in live)
            {
                if (Volatile.Read(ref box.Value) > 0)
                {
                    return true;
                }
            }

            lock (gate)
            {
                return named.Values.Any(c => c.Recent > 0);
            }
        }
    }

    private sealed class IdentityComparer : IEqualityComparer<(FlagDefinition Flag, string Variant)>
    {
        public static readonly IdentityComparer Instance = new();

        public bool Equals((FlagDefinition Flag, string Variant) x, (FlagDefinition Flag, string Variant) y) =>
            ReferenceEquals(x.Flag, y.Flag) && ReferenceEquals(x.Variant, y.Variant);

        public int GetHashCode((FlagDefinition Flag, string Variant) obj) =>
            HashCode.Combine(RuntimeHelpers.GetHashCode(obj.Flag), RuntimeHelpers.GetHashCode(obj.Variant));
    }
}

using System.Text;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Gray;

/// <summary>
/// Chooses gray cohorts by hashing the stable instance id (with app and namespace, so different namespaces get
/// different cohorts) into one of 10,000 buckets. An instance is in a P% rollout when its bucket is below
/// P x 100, so raising P only adds instances, and an instance never flips while P only grows.
/// </summary>
public static class GrayCohort
{
    public const int Buckets = 10_000;

    /// <summary>The instance's bucket, 0..9999. FNV-1a 64-bit over UTF-8 of <c>app/namespace/instance</c>, then a mixer.</summary>
    public static int Bucket(string app, string ns, string instanceId)
    {
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offset;
        foreach (var b in Encoding.UTF8.GetBytes($"{app}/{ns}/{instanceId}"))
        {
            hash ^= b;
            hash *= prime;
        }

        // FNV's low bits are weak for short similar inputs: finish with SplitMix64's mixer.
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return (int)(hash % Buckets);
    }

    /// <summary>The bucket threshold for a percentage (0..100, 0.01 steps).</summary>
    public static int Threshold(double percentage) => (int)Math.Round(Math.Clamp(percentage, 0, 100) * 100, MidpointRounding.AwayFromZero);

    public static bool InPercentage(string app, string ns, string instanceId, double percentage) => Bucket(app, ns, instanceId) < Threshold(percentage);

    /// <summary>True when <paramref name="rule"/> selects the instance.</summary>
    public static bool Matches(GrayRule rule, string app, string ns, string? instanceId, IReadOnlyCollection<string> labels)
    {
        if (string.IsNullOrEmpty(instanceId))
        {
            return false;
        }

        if (rule.InstanceIds.Contains(instanceId, StringComparer.Ordinal))
        {
            return true;
        }

        if (rule.Labels.Count > 0 && rule.Labels.All(l => labels.Contains(l, StringComparer.Ordinal)))
        {
            return true;
        }

        return rule.Percentage > 0 && InPercentage(app, ns, instanceId, rule.Percentage);
    }
}

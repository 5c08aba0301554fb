using Conclave.ConfigCenter.Model;
using Conclave.Flags;

namespace Conclave.ConfigCenter.Gray;

/// <summary>
/// Chooses gray cohorts by hashing the stable instance id (with app and namespace, so different namespaces get
/// different cohorts) into one of 10,000 buckets. An instance is in a P% rollout when its bucket is below
/// P x 100, so raising P only adds instances, and an instance never flips while P only grows.
/// </summary>
public static class GrayCohort
{
    public const int Buckets = 10_000;

    /// <summary>The instance's bucket, 0..9999: the flag bucket (docs/feature-flags.md) of the instance id under the seed <c>app/namespace</c>.</summary>
    public static int Bucket(string app, string ns, string instanceId) => FlagBucket.Of($"{app}/{ns}", instanceId);

    /// <summary>The bucket threshold for a percentage (0..100, 0.01 steps).</summary>
    public static int Threshold(double percentage) => FlagBucket.Threshold(percentage);

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

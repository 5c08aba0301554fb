using System.Collections.Frozen;
using System.Text.Json;

namespace Conclave.Flags;

/// <summary>
/// The flags of one <c>flags</c> document, parsed and validated (<see cref="Parse"/>), and their evaluation
/// (docs/feature-flags.md). Immutable and safe to share between threads: an evaluation allocates nothing.
/// </summary>
public sealed class FlagSet
{
    /// <summary>A set without flags.</summary>
    public static FlagSet Empty { get; } = new(FrozenDictionary<string, FlagDefinition>.Empty);

    private readonly FrozenDictionary<string, FlagDefinition> _flags;

    internal FlagSet(FrozenDictionary<string, FlagDefinition> flags) => _flags = flags;

    /// <summary>The flags by name (ordinal).</summary>
    public IReadOnlyDictionary<string, FlagDefinition> Flags => _flags;

    /// <summary>Parses and validates a flags document; throws <see cref="FlagDocumentException"/> naming the first error.</summary>
    public static FlagSet Parse(string json) => FlagDocumentParser.Parse(json);

    /// <summary>Merges sets in order: a later set's flag replaces an earlier one of the same name.</summary>
    public static FlagSet Merge(IEnumerable<FlagSet> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var merged = new Dictionary<string, FlagDefinition>(StringComparer.Ordinal);
        foreach (var set in sets)
        {
            foreach (var (name, flag) in set._flags)
            {
                merged[name] = flag;
            }
        }

        return merged.Count == 0 ? Empty : new FlagSet(merged.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>Chooses the variant of <paramref name="flag"/> for <paramref name="context"/>.</summary>
    public FlagDecision Evaluate(string flag, FlagContext context)
    {
        ArgumentNullException.ThrowIfNull(flag);
        ArgumentNullException.ThrowIfNull(context);
        if (!_flags.TryGetValue(flag, out var definition))
        {
            return FlagDecision.Failed(flag, FlagErrorCode.FlagNotFound, $"no flag '{flag}'");
        }

        return Evaluate(definition, context, depth: 0);
    }

    /// <summary>Evaluates and reads the variant's value; <paramref name="value"/> is default on error.</summary>
    public FlagDecision Evaluate(string flag, FlagContext context, out JsonElement value)
    {
        var decision = Evaluate(flag, context);
        value = decision.Variant is { } v ? _flags[flag].Variants[v] : default;
        return decision;
    }

    private FlagDecision Evaluate(FlagDefinition flag, FlagContext context, int depth)
    {
        if (!flag.Enabled)
        {
            return new FlagDecision(flag.Name, flag.OffVariant, FlagReason.Disabled, FlagErrorCode.None, null);
        }

        if (flag.Rules.Count == 0)
        {
            return new FlagDecision(flag.Name, flag.DefaultVariant, FlagReason.Static, FlagErrorCode.None, null);
        }

        var rules = (FlagRule[])flag.Rules;
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (!Holds(rule, context, depth))
            {
                continue;
            }

            if (rule.Variant is { } variant)
            {
                return new FlagDecision(flag.Name, variant, FlagReason.TargetingMatch, FlagErrorCode.None, null, i);
            }

            if (context.EffectiveKey is not { } key)
            {
                continue;
            }

            var bucket = FlagBucket.Of(flag.Seed, key);
            foreach (var entry in (FlagRolloutEntry[])rule.Rollout)
            {
                if (bucket < entry.UpperBucket)
                {
                    return new FlagDecision(flag.Name, entry.Variant, FlagReason.Split, FlagErrorCode.None, null, i);
                }
            }
        }

        return new FlagDecision(flag.Name, flag.DefaultVariant, FlagReason.Default, FlagErrorCode.None, null);
    }

    private bool Holds(FlagRule rule, FlagContext context, int depth)
    {
        if (rule.UsersSet is { } users && (context.EffectiveKey is not { } key || !users.Contains(key)))
        {
            return false;
        }

        if (rule.InstancesSet is { } instances && (string.IsNullOrEmpty(context.InstanceId) || !instances.Contains(context.InstanceId)))
        {
            return false;
        }

        if (rule.GroupsSet is { } groups && !AnyIn(context.Groups, groups))
        {
            return false;
        }

        foreach (var (name, values) in rule.AttributeSets)
        {
            if (!context.Attributes.TryGetValue(name, out var actual) || actual is null || !values.Contains(actual))
            {
                return false;
            }
        }

        if (rule.Start is not null || rule.End is not null)
        {
            // The clients put their TimeProvider's time in the context; a context without one is judged by the clock.
            var now = context.Now ?? TimeProvider.System.GetUtcNow();
            if ((rule.Start is { } start && now < start) || (rule.End is { } end && now >= end))
            {
                return false;
            }
        }

        foreach (var prerequisite in (FlagPrerequisite[])rule.Prerequisites)
        {
            // Validation refused cycles, so depth is bounded by the number of flags; the guard is for sets built by hand.
            if (depth >= _flags.Count || !_flags.TryGetValue(prerequisite.Flag, out var other))
            {
                return false;
            }

            var decision = Evaluate(other, context, depth + 1);
            if (decision.Variant is null || !Contains((string[])prerequisite.Variants, decision.Variant))
            {
                return false;
            }
        }

        return true;
    }

    private static bool AnyIn(IReadOnlyList<string> values, StringSet set)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is { } v && set.Contains(v))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(string[] values, string value)
    {
        foreach (var v in values)
        {
            if (string.Equals(v, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

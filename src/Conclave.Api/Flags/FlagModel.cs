using System.Collections.Frozen;
using System.Text.Json;

namespace Conclave.Flags;

/// <summary>The type every variant of a flag has (docs/feature-flags.md).</summary>
public enum FlagType
{
    Boolean,
    String,
    Number,
    Json,
}

/// <summary>A flag of a <c>flags</c> namespace, validated. Immutable; shared by every evaluation.</summary>
public sealed class FlagDefinition
{
    internal FlagDefinition(string name, FlagType type, string? description, bool enabled, FrozenDictionary<string, JsonElement> variants,
        string defaultVariant, string offVariant, FlagRule[] rules, string seed)
    {
        Name = name;
        Type = type;
        Description = description;
        Enabled = enabled;
        Variants = variants;
        DefaultVariant = defaultVariant;
        OffVariant = offVariant;
        Rules = rules;
        Seed = seed;
    }

    public string Name { get; }

    public FlagType Type { get; }

    public string? Description { get; }

    /// <summary>The kill switch: when false everyone gets <see cref="OffVariant"/>.</summary>
    public bool Enabled { get; }

    /// <summary>Variant name to value (each value of <see cref="Type"/>).</summary>
    public IReadOnlyDictionary<string, JsonElement> Variants { get; }

    public string DefaultVariant { get; }

    public string OffVariant { get; }

    public IReadOnlyList<FlagRule> Rules { get; }

    /// <summary>Hashed with the targeting key for percentages; the flag's name unless the document sets one.</summary>
    public string Seed { get; }
}

/// <summary>A targeting rule: all conditions must hold; then <see cref="Variant"/> or the <see cref="Rollout"/> decides.</summary>
public sealed class FlagRule
{
    internal FlagRule(string? name, StringSet? users, StringSet? instances, StringSet? groups,
        KeyValuePair<string, StringSet>[] attributes, DateTimeOffset? start, DateTimeOffset? end, FlagPrerequisite[] prerequisites,
        string? variant, FlagRolloutEntry[] rollout)
    {
        Name = name;
        UsersSet = users;
        InstancesSet = instances;
        GroupsSet = groups;
        AttributeSets = attributes;
        Start = start;
        End = end;
        Prerequisites = prerequisites;
        Variant = variant;
        Rollout = rollout;
    }

    public string? Name { get; }

    public IReadOnlyCollection<string>? Users => UsersSet?.Items;

    public IReadOnlyCollection<string>? Instances => InstancesSet?.Items;

    public IReadOnlyCollection<string>? Groups => GroupsSet?.Items;

    public IEnumerable<KeyValuePair<string, IReadOnlyCollection<string>>> Attributes =>
        AttributeSets.Select(a => KeyValuePair.Create(a.Key, (IReadOnlyCollection<string>)a.Value.Items));

    /// <summary>The window's start (inclusive), if any.</summary>
    public DateTimeOffset? Start { get; }

    /// <summary>The window's end (exclusive), if any.</summary>
    public DateTimeOffset? End { get; }

    public IReadOnlyList<FlagPrerequisite> Prerequisites { get; }

    /// <summary>The variant served when the rule matches; null for a rollout rule.</summary>
    public string? Variant { get; }

    /// <summary>The rollout's entries in order; empty for a fixed-variant rule.</summary>
    public IReadOnlyList<FlagRolloutEntry> Rollout { get; }

    internal StringSet? UsersSet { get; }

    internal StringSet? InstancesSet { get; }

    internal StringSet? GroupsSet { get; }

    internal KeyValuePair<string, StringSet>[] AttributeSets { get; }
}

/// <summary>A rollout entry: <see cref="Percentage"/> percent of buckets (0.01 steps) get <see cref="Variant"/>.</summary>
/// <param name="Variant">The variant.</param>
/// <param name="Percentage">0 to 100.</param>
/// <param name="UpperBucket">The end (exclusive) of this entry's bucket range: the thresholds of it and of the entries before it.</param>
public sealed record FlagRolloutEntry(string Variant, double Percentage, int UpperBucket);

/// <summary>Another flag of the document must give one of <see cref="Variants"/>.</summary>
public sealed record FlagPrerequisite(string Flag, IReadOnlyList<string> Variants);

/// <summary>
/// A set of strings tuned for the sizes rules have: a linear scan for a handful (no hashing of the probe), a frozen
/// hash set beyond.
/// </summary>
internal sealed class StringSet
{
    private readonly string[] _small;
    private readonly FrozenSet<string>? _large;

    public StringSet(string[] items)
    {
        Items = items;
        _small = items.Length <= 8 ? items : [];
        _large = items.Length > 8 ? items.ToFrozenSet(StringComparer.Ordinal) : null;
    }

    public string[] Items { get; }

    public bool Contains(string value)
    {
        if (_large is not null)
        {
            return _large.Contains(value);
        }

        foreach (var item in _small)
        {
            if (string.Equals(item, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

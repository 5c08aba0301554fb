using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Validation;

/// <summary>
/// Differences between two versions of a namespace: per key for properties, per flag for flags (the key is the flag's
/// name, the values its definition as compact JSON), the whole document otherwise.
/// </summary>
public static class ReleaseDiff
{
    public static IReadOnlyList<DiffEntry> Compare(NamespaceFormat format, string? oldContent, IReadOnlyDictionary<string, string>? oldMap, string? newContent, IReadOnlyDictionary<string, string>? newMap)
    {
        if (format == NamespaceFormat.Flags && FlagMap(oldContent) is { } oldFlags && FlagMap(newContent) is { } newFlags)
        {
            return CompareMaps(oldFlags, newFlags);
        }

        if (format != NamespaceFormat.Properties)
        {
            if (string.Equals(oldContent ?? "", newContent ?? "", StringComparison.Ordinal))
            {
                return [];
            }

            var change = oldContent is null ? DiffChange.Added : newContent is null ? DiffChange.Removed : DiffChange.Changed;
            return [new DiffEntry("", change, oldContent, newContent)];
        }

        return CompareMaps(oldMap ?? new Dictionary<string, string>(), newMap ?? new Dictionary<string, string>());
    }

    /// <summary>A flags document's flags by name, each as compact JSON; empty for no document, null when it does not parse.</summary>
    private static Dictionary<string, string>? FlagMap(string? content)
    {
        if (string.IsNullOrWhiteSpace(content))
        {
            return [];
        }

        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(content);
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !document.RootElement.TryGetProperty("flags", out var flags) || flags.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                return null;
            }

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var flag in flags.EnumerateObject())
            {
                map[flag.Name] = System.Text.Json.Nodes.JsonNode.Parse(flag.Value.GetRawText())!.ToJsonString();
            }

            return map;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public static IReadOnlyList<DiffEntry> CompareMaps(IReadOnlyDictionary<string, string> older, IReadOnlyDictionary<string, string> newer)
    {
        var result = new List<DiffEntry>();
        foreach (var key in older.Keys.Union(newer.Keys).Order(StringComparer.Ordinal))
        {
            var had = older.TryGetValue(key, out var o);
            var has = newer.TryGetValue(key, out var n);
            if (had && !has)
            {
                result.Add(new DiffEntry(key, DiffChange.Removed, o, null));
            }
            else if (!had && has)
            {
                result.Add(new DiffEntry(key, DiffChange.Added, null, n));
            }
            else if (!string.Equals(o, n, StringComparison.Ordinal))
            {
                result.Add(new DiffEntry(key, DiffChange.Changed, o, n));
            }
        }

        return result;
    }
}

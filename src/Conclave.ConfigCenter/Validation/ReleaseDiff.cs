using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Validation;

/// <summary>Differences between two versions of a namespace: per key for properties, the whole document otherwise.</summary>
public static class ReleaseDiff
{
    public static IReadOnlyList<DiffEntry> Compare(NamespaceFormat format, string? oldContent, IReadOnlyDictionary<string, string>? oldMap, string? newContent, IReadOnlyDictionary<string, string>? newMap)
    {
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

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>Which configuration keys a release changes: added, removed or given another value.</summary>
internal static class KeyDiff
{
    public static List<string> Changed(IDictionary<string, string?> before, Dictionary<string, string?> after)
    {
        var changed = new List<string>();
        foreach (var (key, value) in after)
        {
            if (!before.TryGetValue(key, out var old) || !string.Equals(old, value, StringComparison.Ordinal))
            {
                changed.Add(key);
            }
        }

        foreach (var key in before.Keys)
        {
            if (!after.ContainsKey(key))
            {
                changed.Add(key);
            }
        }

        changed.Sort(StringComparer.OrdinalIgnoreCase);
        return changed;
    }
}

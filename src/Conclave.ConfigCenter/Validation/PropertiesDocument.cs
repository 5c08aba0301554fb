using System.Text;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Validation;

/// <summary>
/// The properties format as the center reads and writes it: one <c>key=value</c> (or <c>key: value</c>) per
/// line; lines starting with <c>#</c> or <c>!</c> are comments and attach to the next item; blank lines are
/// ignored. Values are single-line.
/// </summary>
public static class PropertiesDocument
{
    public static List<ConfigItem> Parse(string text, ConfigLimits limits)
    {
        var items = new List<ConfigItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? comment = null;
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.TrimStart();
            var indent = line.Length - trimmed.Length;
            if (trimmed.Length == 0)
            {
                continue;
            }

            if (trimmed[0] is '#' or '!')
            {
                var c = trimmed[1..].Trim();
                comment = comment is null ? c : comment + "\n" + c;
                continue;
            }

            var sep = trimmed.IndexOfAny(['=', ':']);
            if (sep < 0)
            {
                throw Error(i + 1, indent + 1, "expected key=value");
            }

            var key = trimmed[..sep].TrimEnd();
            if (key.Length == 0)
            {
                throw Error(i + 1, indent + 1, "the key is empty");
            }

            try
            {
                ConfigNames.CheckItemKey(key, limits);
            }
            catch (ConfigCenterException e)
            {
                throw Error(i + 1, indent + 1, e.Message);
            }

            if (!seen.Add(key))
            {
                throw Error(i + 1, indent + 1, $"duplicate key '{key}'");
            }

            var value = trimmed[(sep + 1)..].Trim();
            ConfigNames.CheckValue(key, value, limits);
            items.Add(new ConfigItem(key, value, comment));
            comment = null;
        }

        return items;
    }

    public static string Render(IEnumerable<ConfigItem> items)
    {
        var text = new StringBuilder();
        foreach (var item in items)
        {
            if (!string.IsNullOrEmpty(item.Comment))
            {
                foreach (var c in item.Comment.Split('\n'))
                {
                    text.Append("# ").Append(c).Append('\n');
                }
            }

            text.Append(item.Key).Append('=').Append(item.Value).Append('\n');
        }

        return text.ToString();
    }

    private static ConfigCenterException Error(int line, int column, string what) =>
        new(ConfigErrorKind.InvalidDocument, $"properties: line {line}, column {column}: {what}") { Line = line, Column = column };
}

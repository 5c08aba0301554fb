using System.Globalization;
using System.Text;
using System.Text.Json;
using Conclave.Cli.Commands.Client;

namespace Conclave.Cli.Commands.Config;

/// <summary>The table views of the configuration API's answers.</summary>
internal static class ConfigTables
{
    /// <summary>A property as display text: strings as they are, null/absent as "", numbers and objects as JSON.</summary>
    public static string S(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Text(v) : "";

    public static string Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString() ?? "",
        JsonValueKind.Null or JsonValueKind.Undefined => "",
        JsonValueKind.Array => string.Join(",", v.EnumerateArray().Select(Text)),
        _ => v.GetRawText(),
    };

    public static long L(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;

    /// <summary>A time as UTC to the second.</summary>
    public static string Time(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : "";

    public static string Table(JsonElement list, string[] headers, Func<JsonElement, string[]> row)
    {
        var table = new TextTable(headers);
        foreach (var item in list.EnumerateArray())
        {
            table.Add(row(item).Select(OneLine).ToArray());
        }

        return table.ToString();
    }

    public static string Apps(JsonElement list) =>
        Table(list, ["ID", "NAME", "OWNER", "CREATED BY", "CREATED"], a => [S(a, "id"), S(a, "name"), S(a, "owner"), S(a, "createdBy"), Time(a, "createdAt")]);

    public static string Environments(JsonElement list) =>
        Table(list, ["NAME", "CREATED BY", "CREATED"], e => [S(e, "name"), S(e, "createdBy"), Time(e, "createdAt")]);

    public static string Namespaces(JsonElement list) =>
        Table(list, ["NAME", "FORMAT", "SHARING", "MAIN RELEASE", "GRAY RELEASE", "REVISION", "UPDATED BY", "UPDATED"], n =>
            [S(n, "name"), S(n, "format"), Sharing(n), Release(L(n, "headReleaseId")), Gray(n), S(n, "revision"), S(n, "updatedBy"), Time(n, "updatedAt")]);

    private static string Sharing(JsonElement n) =>
        S(n, "baseApp") is { Length: > 0 } baseApp ? $"overrides {baseApp}" : S(n, "isPublic") == "true" ? "public" : "private";

    /// <summary>One namespace: a summary line, then its items (properties) or its document.</summary>
    public static string Namespace(JsonElement n)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{S(n, "app")}/{S(n, "env")}/{S(n, "name")}  format {S(n, "format")}  main release {Release(L(n, "headReleaseId"))}  gray {Gray(n)}  {Sharing(n)}  revision {S(n, "revision")}  schema {(S(n, "schema").Length > 0 ? "yes" : "no")}\n");
        if (S(n, "format") == "Properties")
        {
            text.Append(Items(n.GetProperty("items")));
        }
        else
        {
            text.Append(S(n, "content")).Append('\n');
        }

        return text.ToString();
    }

    public static string Items(JsonElement items) =>
        Table(items, ["KEY", "VALUE", "COMMENT"], i => [S(i, "key"), S(i, "value"), S(i, "comment")]);

    public static string Releases(JsonElement list) =>
        Table(list, ["ID", "KIND", "TITLE", "AUTHOR", "CREATED", "CONTENT HASH"], r =>
            [S(r, "id"), S(r, "kind"), S(r, "title"), S(r, "author"), Time(r, "createdAt"), Short(S(r, "contentHash"))]);

    /// <summary>One release: a summary line, then its content.</summary>
    public static string Release(JsonElement r) =>
        $"release {S(r, "id")} of {S(r, "app")}/{S(r, "env")}/{S(r, "namespace")}  {S(r, "kind")}  \"{S(r, "title")}\" by {S(r, "author")} at {Time(r, "createdAt")}  sha256 {Short(S(r, "contentHash"))}"
        + (S(r, "rollbackOf").Length > 0 ? $"  restores {S(r, "rollbackOf")}" : "") + "\n" + S(r, "content");

    public static string Diff(JsonElement list) =>
        list.GetArrayLength() == 0
            ? "no differences"
            : Table(list, ["CHANGE", "KEY", "OLD", "NEW"], d => [S(d, "change"), S(d, "key"), S(d, "oldValue"), S(d, "newValue")]);

    public static string History(JsonElement list) =>
        Table(list, ["ID", "OPERATION", "RELEASE", "PREVIOUS", "RULE", "AUTHOR", "AT", "COMMENT"], h =>
            [S(h, "id"), S(h, "operation"), S(h, "releaseId"), S(h, "previousReleaseId"), h.TryGetProperty("rule", out var rule) ? Rule(rule) : "", S(h, "author"), Time(h, "at"), S(h, "comment")]);

    public static string Audit(JsonElement list) =>
        Table(list, ["AT", "AUTHOR", "ACTION", "TARGET", "DETAIL", "FROM"], a => [Time(a, "at"), S(a, "author"), S(a, "action"), S(a, "target"), S(a, "detail"), S(a, "from")]);

    public static string AuditAcrossApps(JsonElement list) =>
        Table(list, ["AT", "APP", "AUTHOR", "ACTION", "TARGET", "DETAIL", "FROM"], a => [Time(a, "at"), S(a, "app"), S(a, "author"), S(a, "action"), S(a, "target"), S(a, "detail"), S(a, "from")]);

    public static string Credentials(JsonElement list) =>
        Table(list, ["ID", "NAME", "KEY ENDS", "CREATED BY", "CREATED", "REVOKED BY", "REVOKED"], c =>
            [S(c, "id"), S(c, "name"), "..." + S(c, "hint"), S(c, "createdBy"), Time(c, "createdAt"), S(c, "revokedBy"), Time(c, "revokedAt")]);

    public static string Instances(JsonElement list) =>
        Table(list, ["INSTANCE", "RELEASE", "STATUS", "REASON", "LABELS", "REPORTED", "FROM"], i =>
            [S(i, "instanceId"), S(i, "releaseId"), S(i, "status"), S(i, "reason"), S(i, "labels"), Time(i, "reportedAt"), S(i, "from")]);

    /// <summary>"812 of 1000 instances on release 42, 3 rejected it", then who rejected it and why.</summary>
    public static string Convergence(JsonElement c)
    {
        var text = new StringBuilder();
        var rejected = c.GetProperty("rejected");
        text.Append(CultureInfo.InvariantCulture, $"{S(c, "applied")} of {S(c, "instances")} instances on release {S(c, "releaseId")}, {rejected.GetArrayLength()} rejected it");
        if (c.TryGetProperty("byRelease", out var by) && by.ValueKind == JsonValueKind.Object && by.EnumerateObject().Any())
        {
            text.Append("; by release: ").Append(string.Join(", ", by.EnumerateObject().Select(p => $"{p.Name}: {p.Value.GetRawText()}")));
        }

        text.Append('\n');
        foreach (var r in rejected.EnumerateArray())
        {
            text.Append(CultureInfo.InvariantCulture, $"  {S(r, "instanceId")} rejected it: {S(r, "reason")}\n");
        }

        return text.ToString();
    }

    public static string Rule(JsonElement rule)
    {
        if (rule.ValueKind != JsonValueKind.Object)
        {
            return "";
        }

        var parts = new List<string>();
        if (rule.TryGetProperty("instanceIds", out var ids) && ids.GetArrayLength() > 0)
        {
            parts.Add($"ids={Text(ids)}");
        }

        if (rule.TryGetProperty("labels", out var labels) && labels.GetArrayLength() > 0)
        {
            parts.Add($"labels={Text(labels)}");
        }

        if (rule.TryGetProperty("percentage", out var p) && p.GetDouble() > 0)
        {
            parts.Add($"{p.GetDouble().ToString(CultureInfo.InvariantCulture)}%");
        }

        return string.Join(" ", parts);
    }

    private static string Gray(JsonElement n) =>
        n.TryGetProperty("gray", out var g) && g.ValueKind == JsonValueKind.Object ? $"{S(g, "releaseId")} ({Rule(g.GetProperty("rule"))})" : "-";

    private static string Release(long id) => id > 0 ? id.ToString(CultureInfo.InvariantCulture) : "-";

    private static string Short(string hash) => hash.Length > 12 ? hash[..12] : hash;

    private static string OneLine(string cell) => cell.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

using System.Globalization;
using Conclave.Cli.Commands.Client;
using Conclave.Server.Backup;

namespace Conclave.Cli.Commands.Snapshot;

/// <summary>Prints <c>snapshot status</c> in etcdutl's layouts (hash, revision, total keys, total size), with Conclave's extra fields.</summary>
internal static class SnapshotOutput
{
    public static string Status(SnapshotFileStatus s, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                return JsonText.Write(json =>
                {
                    json.WriteStartObject();
                    json.WriteString("hash", s.Sha256);
                    json.WriteNumber("revision", s.Image.Revision);
                    json.WriteNumber("compactRevision", s.Image.CompactRevision);
                    json.WriteNumber("totalKey", s.Image.Keys);
                    json.WriteNumber("totalVersions", s.Image.Versions);
                    json.WriteNumber("totalSize", s.FileSize);
                    json.WriteNumber("imageSize", s.Image.Length);
                    json.WriteNumber("version", s.Image.FormatVersion);
                    json.WriteNumber("appliedIndex", s.Image.AppliedIndex);
                    json.WriteNumber("leases", s.Image.Leases);
                    json.WriteNumber("systemRevision", s.Image.SystemRevision);
                    json.WriteNumber("systemKeys", s.Image.SystemKeys);
                    json.WriteBoolean("authEnabled", s.Image.AuthEnabled);
                    json.WriteNumber("users", s.Image.Users);
                    json.WriteNumber("roles", s.Image.Roles);
                    json.WriteEndObject();
                }) + "\n";
            case OutputFormat.Table:
                var table = new TextTable("HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "VERSION", "LEASES", "SYSTEM KEYS");
                table.Add(Cells(s));
                return table.ToString();
            default:
                return string.Join(", ", Cells(s)) + "\n";
        }
    }

    private static string[] Cells(SnapshotFileStatus s) =>
    [
        s.Sha256.Length == 0 ? "(not checked)" : s.Sha256,
        s.Image.Revision.ToString(CultureInfo.InvariantCulture),
        s.Image.Keys.ToString(CultureInfo.InvariantCulture),
        s.FileSize.ToString(CultureInfo.InvariantCulture),
        s.Image.FormatVersion.ToString(CultureInfo.InvariantCulture),
        s.Image.Leases.ToString(CultureInfo.InvariantCulture),
        s.Image.SystemKeys.ToString(CultureInfo.InvariantCulture),
    ];
}

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
                    json.WriteNumber("revision", s.Revision);
                    json.WriteNumber("compactRevision", s.CompactRevision);
                    json.WriteNumber("totalKey", s.Keys);
                    json.WriteNumber("totalVersions", s.Versions);
                    json.WriteNumber("totalSize", s.FileSize);
                    json.WriteNumber("imageSize", s.ImageSize);
                    json.WriteNumber("version", s.FormatVersion);
                    json.WriteNumber("appliedIndex", s.AppliedIndex);
                    json.WriteNumber("leases", s.Leases);
                    json.WriteNumber("systemRevision", s.SystemRevision);
                    json.WriteNumber("systemKeys", s.SystemKeys);
                    json.WriteBoolean("authEnabled", s.AuthEnabled);
                    json.WriteNumber("users", s.Users);
                    json.WriteNumber("roles", s.Roles);
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
        s.Revision.ToString(CultureInfo.InvariantCulture),
        s.Keys.ToString(CultureInfo.InvariantCulture),
        s.FileSize.ToString(CultureInfo.InvariantCulture),
        s.FormatVersion.ToString(CultureInfo.InvariantCulture),
        s.Leases.ToString(CultureInfo.InvariantCulture),
        s.SystemKeys.ToString(CultureInfo.InvariantCulture),
    ];
}

using System.Globalization;
using System.Text;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>Prints lease results; the simple format is etcdctl's, lease IDs in 16-digit hex.</summary>
internal static class LeaseOutput
{
    public static string Id(long id) => id.ToString("x16", CultureInfo.InvariantCulture);

    public static string Grant(LeaseGrantResult result, OutputFormat format) => format switch
    {
        OutputFormat.Json => Json(result.Revision, json =>
        {
            json.WriteString("id", Id(result.Id));
            json.WriteNumber("ttl", result.Ttl);
        }),
        OutputFormat.Table => Table(("ID", Id(result.Id)), ("TTL", result.Ttl.ToString(CultureInfo.InvariantCulture))),
        _ => $"lease {Id(result.Id)} granted with TTL({result.Ttl}s)\n",
    };

    public static string Revoke(long id, LeaseRevokeResult result, OutputFormat format) => format switch
    {
        OutputFormat.Json => Json(result.Revision, json => json.WriteString("id", Id(id))),
        _ => $"lease {Id(id)} revoked\n",
    };

    public static string KeepAlive(LeaseKeepAliveResult result, OutputFormat format) => format switch
    {
        OutputFormat.Json => Json(result.Revision, json =>
        {
            json.WriteString("id", Id(result.Id));
            json.WriteNumber("ttl", result.Ttl);
        }),
        _ => $"lease {Id(result.Id)} keepalived with TTL({result.Ttl})\n",
    };

    public static string KeepAliveEnded(long id, OutputFormat format) => format switch
    {
        OutputFormat.Json => JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("id", Id(id));
            json.WriteBoolean("expired_or_revoked", true);
            json.WriteEndObject();
        }) + "\n",
        _ => $"lease {Id(id)} expired or revoked.\n",
    };

    public static string TimeToLive(LeaseTimeToLiveResult result, bool withKeys, OutputFormat format)
    {
        var keys = result.Keys.Select(k => k.ToStringUtf8()).ToList();
        switch (format)
        {
            case OutputFormat.Json:
                return Json(result.Revision, json =>
                {
                    json.WriteString("id", Id(result.Id));
                    json.WriteNumber("ttl", result.Ttl);
                    json.WriteNumber("granted_ttl", result.GrantedTtl);
                    if (withKeys)
                    {
                        json.WriteStartArray("keys");
                        foreach (var key in keys)
                        {
                            json.WriteStringValue(key);
                        }

                        json.WriteEndArray();
                    }
                });
            case OutputFormat.Table when result.Exists:
                return withKeys
                    ? Table(("ID", Id(result.Id)), ("GRANTED TTL", Seconds(result.GrantedTtl)), ("REMAINING", Seconds(result.Ttl)), ("KEYS", string.Join(' ', keys)))
                    : Table(("ID", Id(result.Id)), ("GRANTED TTL", Seconds(result.GrantedTtl)), ("REMAINING", Seconds(result.Ttl)));
            default:
                if (!result.Exists)
                {
                    return $"lease {Id(result.Id)} already expired\n";
                }

                var text = new StringBuilder($"lease {Id(result.Id)} granted with TTL({result.GrantedTtl}s), remaining({result.Ttl}s)");
                if (withKeys)
                {
                    text.Append(", attached keys([").AppendJoin(' ', keys).Append("])");
                }

                return text.Append('\n').ToString();
        }
    }

    public static string List(IReadOnlyList<long> ids, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                return JsonText.Write(json =>
                {
                    json.WriteStartObject();
                    json.WriteStartArray("leases");
                    foreach (var id in ids)
                    {
                        json.WriteStringValue(Id(id));
                    }

                    json.WriteEndArray();
                    json.WriteEndObject();
                }) + "\n";
            case OutputFormat.Table:
                var table = new TextTable("ID");
                foreach (var id in ids)
                {
                    table.Add(Id(id));
                }

                return table.ToString();
            default:
                var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"found {ids.Count} leases\n");
                foreach (var id in ids)
                {
                    text.Append(Id(id)).Append('\n');
                }

                return text.ToString();
        }
    }

    private static string Seconds(long value) => value.ToString(CultureInfo.InvariantCulture) + "s";

    private static string Json(long revision, Action<System.Text.Json.Utf8JsonWriter> body) => JsonText.Write(json =>
    {
        json.WriteStartObject();
        JsonText.Header(json, revision);
        body(json);
        json.WriteEndObject();
    }) + "\n";

    private static string Table(params (string Header, string Value)[] cells)
    {
        var table = new TextTable([.. cells.Select(c => c.Header)]);
        table.Add([.. cells.Select(c => c.Value)]);
        return table.ToString();
    }
}

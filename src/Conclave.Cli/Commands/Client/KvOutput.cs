using System.Text;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>Prints key-value results in the chosen format; the simple format matches etcdctl's.</summary>
internal static class KvOutput
{
    public static string Get(GetResult result, OutputFormat format, bool countOnly, bool keysOnly) => format switch
    {
        OutputFormat.Json => JsonText.Write(json =>
        {
            json.WriteStartObject();
            JsonText.Get(json, result);
            json.WriteEndObject();
        }) + "\n",
        OutputFormat.Table => countOnly ? CountTable(result.Count) : Table(result.Kvs, keysOnly),
        _ => countOnly ? $"{result.Count}\n" : Pairs(result.Kvs, keysOnly),
    };

    public static string Put(PutResult result, OutputFormat format) => format switch
    {
        OutputFormat.Json => JsonText.Write(json =>
        {
            json.WriteStartObject();
            JsonText.Put(json, result);
            json.WriteEndObject();
        }) + "\n",
        OutputFormat.Table => "OK\n" + (result.PrevKv is null ? string.Empty : Table([result.PrevKv], keysOnly: false)),
        _ => "OK\n" + (result.PrevKv is null ? string.Empty : Pairs([result.PrevKv], keysOnly: false)),
    };

    public static string Delete(DeleteResult result, OutputFormat format) => format switch
    {
        OutputFormat.Json => JsonText.Write(json =>
        {
            json.WriteStartObject();
            JsonText.Delete(json, result);
            json.WriteEndObject();
        }) + "\n",
        OutputFormat.Table => $"{result.Deleted}\n" + (result.PrevKvs.Count == 0 ? string.Empty : Table(result.PrevKvs, keysOnly: false)),
        _ => $"{result.Deleted}\n" + Pairs(result.PrevKvs, keysOnly: false),
    };

    public static string Txn(TxnResult result, OutputFormat format)
    {
        if (format == OutputFormat.Json)
        {
            return JsonText.Write(json =>
            {
                json.WriteStartObject();
                JsonText.Txn(json, result);
                json.WriteEndObject();
            }) + "\n";
        }

        var text = new StringBuilder(result.Succeeded ? "SUCCESS\n" : "FAILURE\n");
        foreach (var response in result.Responses)
        {
            text.Append('\n');
            text.Append(response switch
            {
                GetResult get => Get(get, format, countOnly: false, keysOnly: false),
                PutResult put => Put(put, format),
                DeleteResult del => Delete(del, format),
                TxnResult txn => Txn(txn, format),
                _ => string.Empty,
            });
        }

        return text.ToString();
    }

    public static string WatchEvent(WatchEvent e, OutputFormat format)
    {
        var type = e.Type == WatchEventType.Put ? "PUT" : "DELETE";
        switch (format)
        {
            case OutputFormat.Json:
                return JsonText.Write(json =>
                {
                    json.WriteStartObject();
                    json.WriteString("type", type);
                    json.WriteNumber("revision", e.Revision);
                    json.WritePropertyName("kv");
                    JsonText.KeyValue(json, e.Entry);
                    if (e.PrevEntry is not null)
                    {
                        json.WritePropertyName("prev_kv");
                        JsonText.KeyValue(json, e.PrevEntry);
                    }

                    json.WriteEndObject();
                }) + "\n";
            case OutputFormat.Table:
                return $"{type} {e.Entry.KeyString} = {e.Entry.ValueString} (rev {e.Revision}{(e.PrevEntry is null ? string.Empty : ", was " + e.PrevEntry.ValueString)})\n";
            default:
                // etcdctl: the event type, then the previous pair (if asked for), then the new pair.
                var text = new StringBuilder(type).Append('\n');
                if (e.PrevEntry is not null)
                {
                    text.Append(e.PrevEntry.KeyString).Append('\n').Append(e.PrevEntry.ValueString).Append('\n');
                }

                text.Append(e.Entry.KeyString).Append('\n');
                if (e.Type == WatchEventType.Put)
                {
                    text.Append(e.Entry.ValueString).Append('\n');
                }

                return text.ToString();
        }
    }

    private static string Pairs(IReadOnlyList<KeyValueEntry> kvs, bool keysOnly)
    {
        var text = new StringBuilder();
        foreach (var kv in kvs)
        {
            text.Append(kv.KeyString).Append('\n');
            if (!keysOnly)
            {
                text.Append(kv.ValueString).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string Table(IReadOnlyList<KeyValueEntry> kvs, bool keysOnly)
    {
        var table = keysOnly
            ? new TextTable("KEY", "CREATE REV", "MOD REV", "VERSION", "LEASE")
            : new TextTable("KEY", "VALUE", "CREATE REV", "MOD REV", "VERSION", "LEASE");
        foreach (var kv in kvs)
        {
            var lease = kv.Lease == 0 ? string.Empty : kv.Lease.ToString("x");
            if (keysOnly)
            {
                table.Add(kv.KeyString, kv.CreateRevision.ToString(), kv.ModRevision.ToString(), kv.Version.ToString(), lease);
            }
            else
            {
                table.Add(kv.KeyString, kv.ValueString, kv.CreateRevision.ToString(), kv.ModRevision.ToString(), kv.Version.ToString(), lease);
            }
        }

        return table.ToString();
    }

    private static string CountTable(long count)
    {
        var table = new TextTable("COUNT");
        table.Add(count.ToString());
        return table.ToString();
    }
}

using System.Buffers;
using System.Text;
using System.Text.Json;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>Writes results as single-line JSON, keys and values as UTF-8 strings, field names like etcd's.</summary>
internal static class JsonText
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void Header(Utf8JsonWriter json, long revision)
    {
        json.WriteStartObject("header");
        json.WriteNumber("revision", revision);
        json.WriteEndObject();
    }

    public static void KeyValue(Utf8JsonWriter json, KeyValueEntry kv)
    {
        json.WriteStartObject();
        json.WriteString("key", kv.KeyString);
        json.WriteString("value", kv.ValueString);
        json.WriteNumber("create_revision", kv.CreateRevision);
        json.WriteNumber("mod_revision", kv.ModRevision);
        json.WriteNumber("version", kv.Version);
        if (kv.Lease != 0)
        {
            json.WriteString("lease", kv.Lease.ToString("x"));
        }

        json.WriteEndObject();
    }

    public static void KeyValues(Utf8JsonWriter json, string name, IReadOnlyList<KeyValueEntry> kvs)
    {
        json.WriteStartArray(name);
        foreach (var kv in kvs)
        {
            KeyValue(json, kv);
        }

        json.WriteEndArray();
    }

    public static void OpResult(Utf8JsonWriter json, OpResult result)
    {
        json.WriteStartObject();
        switch (result)
        {
            case GetResult get:
                json.WriteString("op", "get");
                Get(json, get);
                break;
            case PutResult put:
                json.WriteString("op", "put");
                Put(json, put);
                break;
            case DeleteResult del:
                json.WriteString("op", "del");
                Delete(json, del);
                break;
            case TxnResult txn:
                json.WriteString("op", "txn");
                Txn(json, txn);
                break;
        }

        json.WriteEndObject();
    }

    public static void Get(Utf8JsonWriter json, GetResult get)
    {
        Header(json, get.Revision);
        KeyValues(json, "kvs", get.Kvs);
        json.WriteBoolean("more", get.More);
        json.WriteNumber("count", get.Count);
    }

    public static void Put(Utf8JsonWriter json, PutResult put)
    {
        Header(json, put.Revision);
        if (put.PrevKv is not null)
        {
            json.WritePropertyName("prev_kv");
            KeyValue(json, put.PrevKv);
        }
    }

    public static void Delete(Utf8JsonWriter json, DeleteResult del)
    {
        Header(json, del.Revision);
        json.WriteNumber("deleted", del.Deleted);
        if (del.PrevKvs.Count > 0)
        {
            KeyValues(json, "prev_kvs", del.PrevKvs);
        }
    }

    public static void Txn(Utf8JsonWriter json, TxnResult txn)
    {
        Header(json, txn.Revision);
        json.WriteBoolean("succeeded", txn.Succeeded);
        json.WriteStartArray("responses");
        foreach (var response in txn.Responses)
        {
            OpResult(json, response);
        }

        json.WriteEndArray();
    }
}

using System.Text.Json;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>How records are written into the keyspace: camelCase JSON, each with its format version <c>v</c>.</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
    };

    public static ByteString Encode<T>(T value) => ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(value, Options));

    public static T Decode<T>(ByteString value) => JsonSerializer.Deserialize<T>(value.Span, Options)
        ?? throw new InvalidDataException($"an empty {typeof(T).Name} record");
}

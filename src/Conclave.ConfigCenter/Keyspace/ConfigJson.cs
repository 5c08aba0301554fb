using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>How records are written into the keyspace: camelCase JSON, each with its format version <c>v</c>.</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        TypeInfoResolver = ConfigJsonContext.Default,
    };

    public static ByteString Encode<T>(T value) => ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(value, Info<T>()));

    public static T Decode<T>(ByteString value) => JsonSerializer.Deserialize(value.Span, Info<T>())
        ?? throw new InvalidDataException($"an empty {typeof(T).Name} record");

    /// <summary>The compile-time metadata of <typeparamref name="T"/> (see <see cref="ConfigJsonContext"/>).</summary>
    public static JsonTypeInfo<T> Info<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
}

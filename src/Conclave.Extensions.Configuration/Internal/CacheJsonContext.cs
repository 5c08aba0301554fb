using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>Compile-time JSON metadata for the last-known-good cache file: works in trimmed and Native AOT apps.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CacheDocument))]
internal sealed partial class CacheJsonContext : JsonSerializerContext;

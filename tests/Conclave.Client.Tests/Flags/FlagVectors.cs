using System.Globalization;
using System.Text.Json;
using Conclave.Flags;
using Conclave.Testing;

namespace Conclave.Client.Tests.Flags;

/// <summary>
/// <c>tests/flags/vectors.json</c>: the test vectors every flag evaluator passes (docs/feature-flags.md). The Node client
/// runs the same file (clients/node/test/flags.test.mjs) and the server validates its documents at publish.
/// </summary>
public static class FlagVectors
{
    private static readonly Lazy<JsonDocument> Document = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "vectors.json"))));

    /// <summary><c>tests/flags</c> of the repository the tests were built from.</summary>
    public static string Directory => RepositoryPaths.Of("tests", "flags");

    public static JsonElement Root => Document.Value.RootElement;

    public static IEnumerable<JsonElement> Cases => Root.GetProperty("cases").EnumerateArray();

    public static IEnumerable<JsonElement> Invalid => Root.GetProperty("invalid").EnumerateArray();

    public static IEnumerable<JsonElement> Buckets => Root.GetProperty("buckets").EnumerateArray();

    /// <summary>A vector's context as the evaluator takes it.</summary>
    public static FlagContext Context(JsonElement context) => new()
    {
        TargetingKey = context.TryGetProperty("targetingKey", out var key) ? key.GetString() : null,
        InstanceId = context.TryGetProperty("instanceId", out var instance) ? instance.GetString() : null,
        Groups = context.TryGetProperty("groups", out var groups) ? [.. groups.EnumerateArray().Select(g => g.GetString()!)] : [],
        Attributes = context.TryGetProperty("attributes", out var attributes)
            ? attributes.EnumerateObject().ToDictionary(a => a.Name, a => a.Value.GetString()!, StringComparer.Ordinal)
            : new Dictionary<string, string>(),
        Now = context.TryGetProperty("now", out var now) ? DateTimeOffset.Parse(now.GetString()!, CultureInfo.InvariantCulture) : null,
    };
}

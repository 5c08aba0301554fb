using System.Text;
using System.Text.Json;

namespace Conclave.Server.Tests.Fixtures;

/// <summary>Reads etcdctl's <c>-w json</c> output (proto field names, base64 bytes).</summary>
internal static class EtcdJson
{
    public static JsonElement Parse(EtcdctlResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        try
        {
            using var document = JsonDocument.Parse(result.Stdout);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"not JSON: {e.Message}\n{result}", e);
        }
    }

    public static long HeaderRevision(JsonElement root) => root.GetProperty("header").GetProperty("revision").GetInt64();

    public static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var v) ? Encoding.UTF8.GetString(v.GetBytesFromBase64()) : "";

    public static long Int(JsonElement element, string property) =>
        element.TryGetProperty(property, out var v) ? v.GetInt64() : 0;

    public static bool Bool(JsonElement element, string property) =>
        element.TryGetProperty(property, out var v) && v.GetBoolean();

    public static IReadOnlyList<JsonElement> Kvs(JsonElement root) =>
        root.TryGetProperty("kvs", out var kvs) ? [.. kvs.EnumerateArray()] : [];
}

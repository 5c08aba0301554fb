using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.Console.Tests;

/// <summary>Test set-up and simulated instances through the real /api/v1 (what a client SDK would send).</summary>
public static class Api
{
    public static async Task<JsonElement> SendAsync(this HttpClient http, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path}: {(int)response.StatusCode} {text}");
        }

        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>An app with one environment and one namespace; returns the namespace's API path.</summary>
    public static async Task<string> NamespaceAsync(this HttpClient http, string app, string env, string ns, string format)
    {
        await http.SendAsync(HttpMethod.Post, "/api/v1/apps", new { id = app });
        await http.SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs", new { name = env });
        await http.SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs/{env}/namespaces", new { name = ns, format });
        return $"/api/v1/apps/{app}/envs/{env}/namespaces/{ns}";
    }

    public static Task<JsonElement> SetItemAsync(this HttpClient http, string nsPath, string key, string value) =>
        http.SendAsync(HttpMethod.Put, $"{nsPath}/items/{key}", new { value });

    public static async Task<long> PublishAsync(this HttpClient http, string nsPath, string title) =>
        (await http.SendAsync(HttpMethod.Post, $"{nsPath}/releases", new { title })).GetProperty("id").GetInt64();

    /// <summary>What a client reports after applying (or refusing) a release.</summary>
    public static Task<JsonElement> ReportAsync(this HttpClient http, string nsPath, string instanceId, long releaseId, bool applied, string? reason = null, string[]? labels = null) =>
        http.SendAsync(HttpMethod.Post, $"{nsPath}/reports", new { instanceId, labels = labels ?? [], releaseId, status = applied ? "Applied" : "Rejected", reason });
}

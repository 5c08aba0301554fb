using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>/api/v1 as a signed-in user: sign in for a token, and calls that carry it (shared by the access tests).</summary>
internal static class SignedInApi
{
    public static async Task<string> SignInAsync(HttpClient http, string name, string password)
    {
        using var response = await http.PostAsJsonAsync("/api/v1/session", new { name, password });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    /// <summary>The answer of a call that must succeed (the assertion names the status and body otherwise).</summary>
    public static async Task<JsonElement> SendAsync(HttpClient http, string token, HttpMethod method, string path, object? body)
    {
        using var response = await SendRawAsync(http, token, method, path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} -> {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<HttpResponseMessage> SendRawAsync(HttpClient http, string token, HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await http.SendAsync(request);
    }
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// The CLI's client of the configuration center's JSON API (<c>/api/v1</c> on a member's HTTP listener). The CLI uses
/// the HTTP API rather than gRPC because it is the one surface that covers every operation (the console and scripts
/// use it too), and its RFC 7807 problems carry what a person needs (detail, line and column, current revision).
/// </summary>
internal sealed class ConfigApi : IDisposable
{
    private readonly HttpClient http;
    private readonly string baseUrl;

    public ConfigApi(string baseUrl, string author, TimeSpan timeout, string? caFile = null, string? certFile = null, string? keyFile = null)
    {
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"--api must be an http(s) URL of a member's HTTP listener, e.g. http://127.0.0.1:2381; got '{baseUrl}'.");
        }

        this.baseUrl = baseUrl.TrimEnd('/');
        var handler = new Conclave.Client.ConclaveClientOptions { Endpoints = [baseUrl], CaFile = caFile, CertFile = certFile, KeyFile = keyFile }.CreateHttpHandler();
        http = new HttpClient(handler) { Timeout = timeout };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>The listener this client talks to.</summary>
    public string BaseUrl => baseUrl;

    /// <summary>Signs every following request in with <paramref name="token"/> (<c>Authorization: Bearer</c>).</summary>
    public void UseToken(string token) => http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

    /// <summary>Signs in with a user name and password (<c>POST /api/v1/session</c>) and returns the token.</summary>
    public async Task<string> SignInAsync(string user, string password, CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["name"] = user, ["password"] = password };
        var answer = await PostAsync("/api/v1/session", body, cancellationToken);
        return answer is { } a && a.TryGetProperty("token", out var token) && token.GetString() is { Length: > 0 } text
            ? text
            : throw new ConfigApiException("the member answered the sign-in without a token");
    }

    /// <summary>Builds <c>/api/v1/...</c> from path segments (each escaped) and an optional query.</summary>
    public static string Path(params string[] segments) => "/api/v1/" + string.Join('/', segments.Select(Uri.EscapeDataString));

    public Task<JsonElement?> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<JsonElement?> PostAsync(string path, JsonObject? body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, (body ?? []).ToJsonString(), cancellationToken);

    public Task<JsonElement?> PutAsync(string path, JsonObject body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Put, path, body.ToJsonString(), cancellationToken);

    public Task<JsonElement?> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <summary>GETs a text answer as it is (JSON lines of an export); refusals as <see cref="SendAsync"/>.</summary>
    public async Task<string> GetTextAsync(string path, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync(new Uri(baseUrl + path), cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ConfigApiException($"cannot reach the configuration API at {baseUrl} ({e.Message})");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.IsSuccessStatusCode ? text : throw Problem((int)response.StatusCode, text);
        }
    }

    /// <summary>Sends a request; returns the JSON answer (null for 204) or throws <see cref="ConfigApiException"/> with the problem's detail.</summary>
    public async Task<JsonElement?> SendAsync(HttpMethod method, string path, string? json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, baseUrl + path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ConfigApiException($"cannot reach the configuration API at {baseUrl} ({e.Message}); is a member serving its HTTP listener there (--api, --listen-http-urls)?");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConfigApiException($"the configuration API at {baseUrl} did not answer within {http.Timeout.TotalSeconds:0.#} s (--timeout)");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();
            }

            throw Problem((int)response.StatusCode, text);
        }
    }

    private static ConfigApiException Problem(int status, string text)
    {
        try
        {
            var problem = JsonDocument.Parse(text).RootElement;
            var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var title = problem.TryGetProperty("title", out var t) ? t.GetString() : null;
            var code = problem.TryGetProperty("code", out var c) ? c.GetString() : null;
            var message = new StringBuilder($"{status} {title ?? "error"}");
            if (!string.IsNullOrEmpty(detail))
            {
                message.Append(": ").Append(detail);
            }

            if (problem.TryGetProperty("currentRevision", out var revision))
            {
                message.Append($" (current revision {revision.GetInt64()})");
            }

            return new ConfigApiException(message.ToString(), status, code);
        }
        catch (JsonException)
        {
            return new ConfigApiException($"{status}: {(text.Length > 200 ? text[..200] : text)}", status);
        }
    }

    public void Dispose() => http.Dispose();
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Conclave.Bench;

/// <summary>
/// The setup and publishing side of <c>config</c>: POST and PUT against the configuration center's JSON API
/// (<c>/api/v1</c> on a member's HTTP listener). A failure throws <see cref="ConfigAdminException"/> with the status
/// and the problem text the server sent.
/// </summary>
internal sealed class ConfigAdmin : IDisposable
{
    public const string DefaultApi = "http://127.0.0.1:2381";

    private readonly HttpClient _http;
    private readonly string _baseUrl;

    public ConfigAdmin(string baseUrl, string author, TimeSpan timeout)
    {
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"--api must be an http(s) URL of a member's HTTP listener, e.g. {DefaultApi}; got '{baseUrl}'.");
        }

        _baseUrl = baseUrl.TrimEnd('/');
        _http = new HttpClient { Timeout = timeout };
        _http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>Builds <c>/api/v1/...</c> from path segments, each escaped.</summary>
    public static string Path(params string[] segments) => "/api/v1/" + string.Join('/', segments.Select(Uri.EscapeDataString));

    /// <summary>POSTs <paramref name="body"/>; returns the JSON answer (null when empty).</summary>
    public Task<System.Text.Json.JsonElement?> PostAsync(string path, JsonObject body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<System.Text.Json.JsonElement?> PutAsync(string path, JsonObject body, CancellationToken cancellationToken) => SendAsync(HttpMethod.Put, path, body, cancellationToken);

    public Task<System.Text.Json.JsonElement?> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<System.Text.Json.JsonElement?> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <summary>Signs in (<c>POST /api/v1/session</c>) and makes every later call as that user (<c>Authorization: Bearer</c>).</summary>
    public async Task SignInAsync(string user, string password, CancellationToken cancellationToken)
    {
        var answer = await PostAsync("/api/v1/session", new JsonObject { ["name"] = user, ["password"] = password }, cancellationToken);
        var token = answer is { } a && a.TryGetProperty("token", out var t) ? t.GetString() : null;
        if (string.IsNullOrEmpty(token))
        {
            throw new ConfigAdminException("the member answered the sign-in without a token");
        }

        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public void Dispose() => _http.Dispose();

    private async Task<System.Text.Json.JsonElement?> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, _baseUrl + path)
        {
            Content = body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ConfigAdminException($"cannot reach the configuration API at {_baseUrl} ({e.Message}); is a member serving its HTTP listener there (--api)?");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConfigAdminException($"the configuration API at {_baseUrl} did not answer {method} {path} within {_http.Timeout.TotalSeconds:0.#} s");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ConfigAdminException($"{method} {path}: {(int)response.StatusCode} {(text.Length > 300 ? text[..300] : text)}");
            }

            return text.Length == 0 ? null : System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
        }
    }
}

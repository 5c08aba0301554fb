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
        baseUrl = Normalize(baseUrl, tls: caFile is not null || certFile is not null);

        this.baseUrl = baseUrl.TrimEnd('/');
        var handler = new Conclave.Client.ConclaveClientOptions { Endpoints = [baseUrl], CaFile = caFile, CertFile = certFile, KeyFile = keyFile }.CreateHttpHandler();
        http = new HttpClient(handler) { Timeout = timeout };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", author);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>
    /// The API's URL from <c>--api</c>: a URL, or <c>host:port</c> as <c>--endpoints</c> takes it (http://, or https://
    /// when <c>--cacert</c> or <c>--cert</c> is given: those only make sense over TLS).
    /// </summary>
    public static string Normalize(string api, bool tls)
    {
        var text = api.Trim();
        if (text.Length > 0 && !text.Contains("://", StringComparison.Ordinal))
        {
            text = (tls ? "https://" : "http://") + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException($"--api must be a member's HTTP listener as host:port or an http(s) URL, e.g. 127.0.0.1:2381 or http://127.0.0.1:2381; got '{api}'.");
        }

        return text;
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
            throw await UnreachableAsync(e, 0, cancellationToken);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.IsSuccessStatusCode ? text : throw Refusal((int)response.StatusCode, text);
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
            throw await UnreachableAsync(e, json is null ? 0 : Encoding.UTF8.GetByteCount(json), cancellationToken);
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

            throw Refusal((int)response.StatusCode, text);
        }
    }

    /// <summary>Bodies at least this large may be cut off by the member's request limit (about 2 MiB by default).</summary>
    private const int LargeBodyBytes = 1024 * 1024;

    /// <summary>
    /// Says why a request got no HTTP answer: the URL is a gRPC port (it speaks only HTTP/2, so an HTTP/1.1 request is
    /// answered with a GOAWAY frame), the connection was closed while a large body was still being sent (the member's
    /// request limit), or nothing serves the API there.
    /// </summary>
    private async Task<ConfigApiException> UnreachableAsync(HttpRequestException e, int bodyBytes, CancellationToken cancellationToken)
    {
        if (await SpeaksOnlyHttp2Async(cancellationToken))
        {
            return GrpcPort();
        }

        if (bodyBytes >= LargeBodyBytes)
        {
            return new ConfigApiException($"the member at {baseUrl} closed the connection while a {bodyBytes}-byte request was being sent: it is probably over the member's request limit (--max-request-bytes plus 512 KiB) ({e.Message})");
        }

        return new ConfigApiException($"cannot reach the configuration API at {baseUrl} ({e.Message}); is a member serving its HTTP listener there (--api, --listen-http-urls)?");
    }

    /// <summary>A refusal with an HTTP status: the problem's detail, or, from a gRPC port, that --api names the wrong port.</summary>
    private ConfigApiException Refusal(int status, string text) =>
        status == 400 && text.Contains("HTTP/2 only endpoint", StringComparison.Ordinal) ? GrpcPort() : Problem(status, text);

    private ConfigApiException GrpcPort() =>
        new($"{baseUrl} is a gRPC port (it speaks only HTTP/2): --api takes the member's HTTP listener (--listen-http-urls, port 2381 by default), not its client URL (--listen-client-urls, 2379).");

    private async Task<bool> SpeaksOnlyHttp2Async(CancellationToken cancellationToken)
    {
        if (!baseUrl.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return false; // over TLS, ALPN lets one port serve both
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2), TimeProvider.System);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, baseUrl + "/health") { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var answer = await http.SendAsync(probe, timeout.Token);
            return true; // any HTTP/2 answer over cleartext after an HTTP/1.1 failure: the gRPC listener
        }
        catch (Exception probeFailure) when (probeFailure is HttpRequestException or OperationCanceledException)
        {
            return false;
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

using System.Net.Http.Headers;
using System.Text.Json;

namespace Conclave.Server.Security.Auth.Oidc;

/// <summary>
/// What the provider's discovery document says (OpenID Connect Discovery 1.0), the parts this member uses;
/// <see cref="EndSessionEndpoint"/> (RP-Initiated Logout 1.0) is null when the provider offers none.
/// </summary>
internal sealed record OidcMetadata(
    string Issuer, string AuthorizationEndpoint, string TokenEndpoint, string JwksUri, IReadOnlyList<string>? ScopesSupported, bool PostSecret,
    string? EndSessionEndpoint = null);

/// <summary>
/// The member's client of the OpenID Connect provider: its discovery document (fetched once and kept for an hour; its
/// issuer must be the configured one), its signing keys (fetched again, at most every 30 seconds, when a token names a
/// key the member does not have: the provider rotated them), and the code exchange at its token endpoint (the client
/// secret by HTTP Basic, or in the form when the provider does not offer Basic, with PKCE's verifier).
/// </summary>
internal sealed class OidcProvider(OidcSettings settings, TimeProvider clock) : IDisposable
{
    private static readonly TimeSpan MetadataLifetime = TimeSpan.FromHours(1);
    private static readonly TimeSpan KeyRefetchInterval = TimeSpan.FromSeconds(30);
    private const int MaxDocumentBytes = 256 * 1024;

    private readonly HttpClient http = new(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    private readonly SemaphoreSlim gate = new(1, 1);
    private (OidcMetadata Metadata, DateTimeOffset Fetched)? metadata;
    private (JsonWebKeys Keys, DateTimeOffset Fetched)? keys;

    public OidcSettings Settings => settings;

    /// <summary>The issuer as configured (a trailing slash as the operator wrote it).</summary>
    public string Issuer => settings.Issuer!;

    /// <exception cref="OidcException">The provider cannot be reached or its document is not usable.</exception>
    public async Task<OidcMetadata> MetadataAsync(CancellationToken cancellationToken)
    {
        if (metadata is { } cached && clock.GetUtcNow() - cached.Fetched < MetadataLifetime)
        {
            return cached.Metadata;
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (metadata is { } again && clock.GetUtcNow() - again.Fetched < MetadataLifetime)
            {
                return again.Metadata;
            }

            var url = Issuer.TrimEnd('/') + "/.well-known/openid-configuration";
            using var doc = await GetJsonAsync(url, "discovery document", cancellationToken);
            var root = doc.RootElement;
            var issuer = Str(root, "issuer");
            if (issuer != Issuer)
            {
                throw new OidcException($"the provider's discovery document names the issuer '{issuer}', not '{Issuer}' (--oidc-issuer must be exactly the provider's issuer)");
            }

            var methods = Strings(root, "code_challenge_methods_supported");
            if (methods is not null && !methods.Contains("S256"))
            {
                throw new OidcException("the provider does not support PKCE with S256, which this member requires");
            }

            var auth = Strings(root, "token_endpoint_auth_methods_supported");
            var result = new OidcMetadata(
                issuer,
                Endpoint(root, "authorization_endpoint"),
                Endpoint(root, "token_endpoint"),
                Endpoint(root, "jwks_uri"),
                Strings(root, "scopes_supported"),
                PostSecret: auth is not null && !auth.Contains("client_secret_basic") && auth.Contains("client_secret_post"),
                EndSessionEndpoint: root.TryGetProperty("end_session_endpoint", out _) ? Endpoint(root, "end_session_endpoint") : null);
            metadata = (result, clock.GetUtcNow());
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The provider's keys; fetched again when <paramref name="kid"/> is not among them (and not just fetched).</summary>
    public async Task<JsonWebKeys> KeysAsync(string? kid, CancellationToken cancellationToken)
    {
        if (keys is { } cached && (cached.Keys.HasKey(kid) || clock.GetUtcNow() - cached.Fetched < KeyRefetchInterval))
        {
            return cached.Keys;
        }

        var meta = await MetadataAsync(cancellationToken);
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (keys is { } again && (again.Keys.HasKey(kid) || clock.GetUtcNow() - again.Fetched < KeyRefetchInterval))
            {
                return again.Keys;
            }

            var bytes = await GetBytesAsync(meta.JwksUri, "signing keys (JWKS)", cancellationToken);
            var parsed = JsonWebKeys.Parse(bytes);
            keys = (parsed, clock.GetUtcNow());
            return parsed;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Exchanges the authorization code for tokens; returns the ID token (kept for sign-out's <c>id_token_hint</c>, never logged).</summary>
    /// <exception cref="OidcException">The provider refused (a used or expired code, a wrong secret) or did not answer.</exception>
    public async Task<string> ExchangeCodeAsync(string code, string redirectUri, string verifier, CancellationToken cancellationToken)
    {
        var meta = await MetadataAsync(cancellationToken);
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "authorization_code"),
            new("code", code),
            new("redirect_uri", redirectUri),
            new("code_verifier", verifier),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, meta.TokenEndpoint);
        if (meta.PostSecret)
        {
            form.Add(new("client_id", settings.ClientId));
            form.Add(new("client_secret", settings.ClientSecret));
        }
        else
        {
            // RFC 6749 2.3.1: each part form-encoded, then Basic.
            var basic = $"{Uri.EscapeDataString(settings.ClientId)}:{Uri.EscapeDataString(settings.ClientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)));
        }

        request.Content = new FormUrlEncodedContent(form);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new OidcException($"the provider's token endpoint did not answer ({e.Message})", e);
        }

        using (response)
        {
            var body = await ReadLimitedAsync(response, cancellationToken);
            JsonDocument? doc = null;
            try
            {
                doc = System.Text.Unicode.Utf8.IsValid(body) ? JsonDocument.Parse(body) : null;
            }
            catch (JsonException)
            {
                // Described below.
            }

            using (doc)
            {
                var root = doc?.RootElement;
                if (!response.IsSuccessStatusCode)
                {
                    var error = root is { ValueKind: JsonValueKind.Object } r ? $"{Str(r, "error")}{(Str(r, "error_description") is { } d ? $": {d}" : "")}" : $"HTTP {(int)response.StatusCode}";
                    throw new OidcException($"the provider refused the sign-in code ({error}); a code is good once and for a short time: sign in again");
                }

                if (root is not { ValueKind: JsonValueKind.Object } ok || Str(ok, "id_token") is not { Length: > 0 } idToken)
                {
                    throw new OidcException("the provider's token endpoint answered without an ID token (is 'openid' among the client's scopes?)");
                }

                return idToken;
            }
        }
    }

    private async Task<JsonDocument> GetJsonAsync(string url, string what, CancellationToken cancellationToken)
    {
        var bytes = await GetBytesAsync(url, what, cancellationToken);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new OidcException($"the provider's {what} at {url} is not UTF-8");
        }

        try
        {
            var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new OidcException($"the provider's {what} at {url} is not a JSON object");
            }

            return doc;
        }
        catch (JsonException e)
        {
            throw new OidcException($"the provider's {what} at {url} is not valid JSON", e);
        }
    }

    private async Task<byte[]> GetBytesAsync(string url, string what, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new OidcException($"the provider's {what} at {url} answered HTTP {(int)response.StatusCode}");
            }

            return await ReadLimitedAsync(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new OidcException($"the OpenID Connect provider cannot be reached: its {what} at {url} did not answer ({e.Message})", e);
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + n > MaxDocumentBytes)
            {
                throw new OidcException($"the provider answered with more than {MaxDocumentBytes} bytes");
            }

            await buffer.WriteAsync(chunk.AsMemory(0, n), cancellationToken);
        }

        return buffer.ToArray();
    }

    /// <summary>An endpoint of the discovery document: https (or http on loopback, as the issuer may be).</summary>
    private static string Endpoint(JsonElement root, string name)
    {
        if (Str(root, name) is not { } value || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttps && !(uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
        {
            throw new OidcException($"the provider's discovery document has no usable {name} (an https:// URL)");
        }

        return value;
    }

    private static List<string>? Strings(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? [.. v.EnumerateArray().Where(static e => e.ValueKind == JsonValueKind.String).Select(static e => e.GetString()!)]
            : null;

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public void Dispose()
    {
        http.Dispose();
        gate.Dispose();
    }
}

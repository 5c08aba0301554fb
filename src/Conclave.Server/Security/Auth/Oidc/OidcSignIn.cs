using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Conclave.Server.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Security.Auth.Oidc;

/// <summary>
/// The console's OpenID Connect sign-in (authorization code flow with PKCE S256, state and nonce; docs/security.md).
/// <c>GET /api/v1/session/oidc</c> sends the browser to the provider, keeping the flow's secrets in a short-lived cookie
/// sealed (AES-256-GCM) under a key derived from the cluster's token key, so only members can read or make it and any
/// member can finish the flow; <c>GET /api/v1/session/oidc/callback</c> checks the state, exchanges the code, validates
/// the ID token and starts a console session (<see cref="SimpleTokens.IssueExternal"/>). Every failure ends on the
/// console's sign-in page with the reason (<c>/?signin_error=...</c>) and no session.
/// </summary>
internal static partial class OidcSignIn
{
    public const string StartPath = "/api/v1/session/oidc";
    public const string CallbackPath = "/api/v1/session/oidc/callback";

    /// <summary>The flow's cookie: sent only to the callback, Lax so the provider's redirect back carries it.</summary>
    public const string FlowCookie = "conclave_oidc";

    /// <summary>How long a sign-in at the provider may take.</summary>
    public static readonly TimeSpan FlowLifetime = TimeSpan.FromMinutes(10);

    public static void Map(IEndpointRouteBuilder app, OidcProvider? provider, HostAllowList hosts)
    {
        if (provider is null)
        {
            // Both paths answer, so the routes (and /api/v1/openapi.json) are the same whether OIDC is configured or not.
            foreach (var path in (string[])[StartPath, CallbackPath])
            {
                app.MapGet(path, (HttpContext http) => Problems.Of(
                    StatusCodes.Status404NotFound, "OpenID Connect is not configured", "OidcNotConfigured",
                    "this member has no --oidc-issuer: sign in with a user of the auth store", http)).DescribeRedirect();
            }

            return;
        }

        app.MapGet(StartPath, async (HttpContext http, Node.ConclaveNode node, TimeProvider clock, ILoggerFactory logs) =>
        {
            var log = logs.CreateLogger(typeof(OidcSignIn).FullName!);
            try
            {
                var state = node.Store.Auth;
                if (!state.Enabled)
                {
                    throw new OidcException("auth is not enabled on this cluster, so there is no session to sign in to (etcdctl auth enable switches it on)");
                }

                var redirectUri = RedirectUri(http, provider.Settings, hosts);
                var meta = await provider.MetadataAsync(http.RequestAborted);
                var flow = new Flow(Random(16), Random(16), Random(32), redirectUri, ReturnTo(http.Request.Query["return"]), clock.GetUtcNow().Add(FlowLifetime).ToUnixTimeSeconds());
                var scopes = provider.Settings.Scopes.Where(s => s == "openid" || meta.ScopesSupported is null || meta.ScopesSupported.Contains(s)).Prepend("openid").Distinct(StringComparer.Ordinal);
                var query = new Dictionary<string, string?>
                {
                    ["response_type"] = "code",
                    ["client_id"] = provider.Settings.ClientId,
                    ["redirect_uri"] = redirectUri,
                    ["scope"] = string.Join(' ', scopes),
                    ["state"] = flow.State,
                    ["nonce"] = flow.Nonce,
                    ["code_challenge"] = Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(flow.Verifier))),
                    ["code_challenge_method"] = "S256",
                };
                http.Response.Cookies.Append(FlowCookie, Seal(state.TokenKey.Span, flow), FlowCookieOptions(http, FlowLifetime));
                http.Response.Headers.CacheControl = "no-store";
                return Results.Redirect(Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(meta.AuthorizationEndpoint, query));
            }
            catch (OidcException e)
            {
                LogRefused(log, e.Message);
                return Fail(http, e.Message);
            }
            catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
            {
                // No leader to read from, a member stopping: said on the sign-in page, never a 500.
                LogFailed(log, e);
                return Fail(http, $"this member cannot finish the sign-in now ({e.Message}); try again in a moment");
            }
        }).DescribeRedirect();

        app.MapGet(CallbackPath, async (HttpContext http, Node.ConclaveNode node, SimpleTokens tokens, AuthSettings settings, TimeProvider clock, ILoggerFactory logs) =>
        {
            var log = logs.CreateLogger(typeof(OidcSignIn).FullName!);
            // One use: the flow's cookie goes whatever happens next.
            var sealedFlow = http.Request.Cookies[FlowCookie];
            http.Response.Cookies.Delete(FlowCookie, FlowCookieOptions(http, null));
            http.Response.Headers.CacheControl = "no-store";
            try
            {
                await node.Consensus.ReadBarrierAsync(http.RequestAborted);
                var state = node.Store.Auth;
                if (!state.Enabled)
                {
                    throw new OidcException("auth is not enabled on this cluster, so there is no session to sign in to");
                }

                var query = http.Request.Query;
                var flow = sealedFlow is { Length: > 0 } ? Open(state.TokenKey.Span, sealedFlow) : null;
                if (flow is null || flow.Expires <= clock.GetUtcNow().ToUnixTimeSeconds())
                {
                    throw new OidcException("this sign-in was not started in this browser, took longer than 10 minutes, or was already finished: start it again");
                }

                if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(query["state"].ToString()), Encoding.UTF8.GetBytes(flow.State)))
                {
                    throw new OidcException("the provider's answer does not belong to this browser's sign-in (its state differs): start it again");
                }

                if (query["iss"].ToString() is { Length: > 0 } iss && iss != provider.Issuer)
                {
                    throw new OidcException($"the answer came from the issuer '{iss}', not from '{provider.Issuer}'");
                }

                if (query["error"].ToString() is { Length: > 0 } error)
                {
                    var description = query["error_description"].ToString();
                    throw new OidcException($"the provider refused the sign-in: {error}{(description.Length > 0 ? $" ({description})" : "")}");
                }

                if (query["code"].ToString() is not { Length: > 0 } code)
                {
                    throw new OidcException("the provider's answer carries no code");
                }

                var idToken = await provider.ExchangeCodeAsync(code, flow.RedirectUri, flow.Verifier, http.RequestAborted);
                var keys = await provider.KeysAsync(KeyIdOf(idToken), http.RequestAborted);
                var identity = IdTokens.Validate(idToken, keys, provider.Issuer, provider.Settings.ClientId, flow.Nonce, clock.GetUtcNow(), provider.Settings);
                if (identity.Name.Any(char.IsControl))
                {
                    throw new OidcException("the provider's user name has control characters");
                }

                if (state.FindUser(identity.Name) is not null)
                {
                    throw new OidcException(
                        $"'{identity.Name}' is a user of this cluster's auth store: sign in with its password. A name from the provider never stands for a local user (so it cannot become root or take a local user's permissions)");
                }

                string session;
                try
                {
                    session = tokens.IssueExternal(state, identity.Name, identity.Groups);
                }
                catch (ArgumentException e)
                {
                    throw new OidcException($"the provider's answer does not fit a session: {e.Message}");
                }

                http.Response.Cookies.Append(HttpSignIn.CookieName, session, HttpSignIn.SessionCookieOptions(http, settings));
                OidcLogout.KeepHint(http, state.TokenKey.Span, session, idToken, settings.TokenTtl);
                LogSignedIn(log, identity.Name, identity.Subject, string.Join(",", identity.Groups));
                return Results.Redirect("/" + flow.ReturnTo);
            }
            catch (OidcException e)
            {
                LogRefused(log, e.Message);
                return Fail(http, e.Message);
            }
            catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
            {
                // No leader to read from, a member stopping: said on the sign-in page, never a 500.
                LogFailed(log, e);
                return Fail(http, $"this member cannot finish the sign-in now ({e.Message}); try again in a moment");
            }
        }).DescribeRedirect();
    }

    /// <summary>The callback URL: configured, or this console's own under the Host the browser used (one the member answers).</summary>
    private static string RedirectUri(HttpContext http, OidcSettings settings, HostAllowList hosts)
    {
        if (settings.RedirectUrl is { } configured)
        {
            return configured;
        }

        var host = http.Request.Host;
        if (!host.HasValue || !hosts.AllowsHost(host.Host))
        {
            throw new OidcException($"this member does not answer for the host name '{host.Host}': open the console under its own address, or set --oidc-redirect-url");
        }

        return $"{http.Request.Scheme}://{host.Value}{CallbackPath}";
    }

    /// <summary>Where the console goes after sign-in: one of its own <c>#/...</c> routes, nothing else.</summary>
    private static string ReturnTo(string? requested) =>
        requested is { Length: > 2 and <= 512 } r && r.StartsWith("#/", StringComparison.Ordinal) && !r.Any(char.IsControl) && !r.Contains('\n') ? r : "";

    /// <summary>
    /// What /api/v1/openapi.json says of a browser step of the sign-in: a redirect (to the provider, or back to the
    /// console, with <c>signin_error</c> on failure), or 404 while OpenID Connect is not configured.
    /// </summary>
    private static RouteHandlerBuilder DescribeRedirect(this RouteHandlerBuilder route) => route
        .Produces(StatusCodes.Status302Found)
        .ProducesProblems([.. ProblemResponses.BeforeHandler, StatusCodes.Status404NotFound]);

    private static IResult Fail(HttpContext http, string message) =>
        Results.Redirect("/?signin_error=" + Uri.EscapeDataString(message));

    private static CookieOptions FlowCookieOptions(HttpContext http, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        Secure = http.Request.IsHttps,
        SameSite = SameSiteMode.Lax,
        Path = StartPath,
        MaxAge = maxAge,
    };

    private static string? KeyIdOf(string idToken)
    {
        var dot = idToken.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || Base64Url.Decode(idToken[..dot]) is not { } header)
        {
            return null;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(header);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("kid", out var kid)
                   && kid.ValueKind == System.Text.Json.JsonValueKind.String ? kid.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null; // IdTokens.Validate says what is wrong with it
        }
    }

    private static string Random(int bytes) => Base64Url.Encode(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>The flow's secrets, kept in the browser between the redirect and the callback.</summary>
    internal sealed record Flow(string State, string Nonce, string Verifier, string RedirectUri, string ReturnTo, long Expires);

    private static byte[] FlowKey(ReadOnlySpan<byte> tokenKey) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, tokenKey.ToArray(), 32, info: "conclave/oidc-flow/v1"u8.ToArray());

    /// <summary>AES-256-GCM under a key derived from the cluster's token key: nonce, ciphertext, tag; base64url.</summary>
    internal static string Seal(ReadOnlySpan<byte> tokenKey, Flow flow)
    {
        var text = Encoding.UTF8.GetBytes(string.Join('\n', flow.State, flow.Nonce, flow.Verifier, flow.RedirectUri, flow.ReturnTo));
        var plain = new byte[8 + text.Length];
        BinaryPrimitives.WriteInt64LittleEndian(plain, flow.Expires);
        text.CopyTo(plain, 8);
        var output = new byte[12 + plain.Length + 16];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(FlowKey(tokenKey), 16);
        aes.Encrypt(output.AsSpan(0, 12), plain, output.AsSpan(12, plain.Length), output.AsSpan(12 + plain.Length), "conclave_oidc"u8);
        return Base64Url.Encode(output);
    }

    /// <summary>The flow a cookie holds, or null when it was not made by this cluster (or under an earlier token key).</summary>
    internal static Flow? Open(ReadOnlySpan<byte> tokenKey, string cookie)
    {
        if (cookie.Length > 4096 || Base64Url.Decode(cookie) is not { Length: > 12 + 8 + 16 } bytes)
        {
            return null;
        }

        var plain = new byte[bytes.Length - 12 - 16];
        try
        {
            using var aes = new AesGcm(FlowKey(tokenKey), 16);
            aes.Decrypt(bytes.AsSpan(0, 12), bytes.AsSpan(12, plain.Length), bytes.AsSpan(12 + plain.Length), plain, "conclave_oidc"u8);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        var parts = Encoding.UTF8.GetString(plain, 8, plain.Length - 8).Split('\n');
        return parts.Length == 5 ? new Flow(parts[0], parts[1], parts[2], parts[3], parts[4], BinaryPrimitives.ReadInt64LittleEndian(plain)) : null;
    }

    [LoggerMessage(EventId = 3350, Level = LogLevel.Information, Message = "OIDC sign-in of {User} (subject {Subject}, groups {Groups})")]
    private static partial void LogSignedIn(ILogger logger, string user, string subject, string groups);

    [LoggerMessage(EventId = 3352, Level = LogLevel.Warning, Message = "OIDC sign-in failed")]
    private static partial void LogFailed(ILogger logger, Exception e);

    [LoggerMessage(EventId = 3351, Level = LogLevel.Warning, Message = "OIDC sign-in refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}

using System.Security.Cryptography;
using System.Text;
using Conclave.Server.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Security.Auth.Oidc;

/// <summary>
/// OpenID Connect RP-Initiated Logout 1.0 for console sessions made by OIDC sign-in (docs/security.md): the ID token
/// the sign-in got is kept for the session, sealed in a cookie of its own (the session token holds a name and groups
/// and has no room for it), and signing out sends the browser to the provider's <c>end_session_endpoint</c> with it as
/// <c>id_token_hint</c>, the console's <c>post_logout_redirect_uri</c> and the <c>client_id</c>, so the provider's own
/// session ends too and the next sign-in asks for the user's credentials again.
/// </summary>
/// <remarks>
/// Nothing of the request chooses where the browser goes: the endpoint is the provider's discovery document's, and the
/// post-logout URL is configured (<c>--oidc-post-logout-redirect-url</c>) or the console's root under the origin of
/// the callback URL (configured, or the request's own host, which must be one the member answers, as for sign-in).
/// No <c>state</c> is sent: the page the provider sends the browser back to is the sign-in page, which acts on nothing
/// it is given.
/// </remarks>
internal static partial class OidcLogout
{
    /// <summary>The sealed ID token: sent only to the session endpoints, Strict like the session cookie.</summary>
    public const string HintCookie = "conclave_oidc_logout";

    /// <summary>Longer sealed hints are not kept (a browser keeps cookies up to about 4 KiB): sign-out then sends no hint.</summary>
    public const int MaxHintCookieChars = 3800;

    private const string CookiePath = "/api/v1/session";

    /// <summary>Keeps <paramref name="idToken"/> for <paramref name="session"/>'s sign-out; too long a token is not kept.</summary>
    public static void KeepHint(HttpContext http, ReadOnlySpan<byte> tokenKey, string session, string idToken, TimeSpan ttl)
    {
        var sealedHint = Seal(tokenKey, session, idToken);
        if (sealedHint.Length <= MaxHintCookieChars)
        {
            http.Response.Cookies.Append(HintCookie, sealedHint, CookieOptions(http, ttl));
        }
        else
        {
            http.Response.Cookies.Delete(HintCookie, CookieOptions(http, null));
        }
    }

    /// <summary>Forgets the kept ID token (at every sign-out, whatever the session was).</summary>
    public static void ForgetHint(HttpContext http) => http.Response.Cookies.Delete(HintCookie, CookieOptions(http, null));

    /// <summary>
    /// Where the browser goes to end the provider's session after the console's has ended: the provider's
    /// <c>end_session_endpoint</c> with the hint, post-logout URL and client id; null when the provider offers no
    /// end-session endpoint or cannot be reached (the sign-out is then the console's only, and says so in the log).
    /// </summary>
    public static async Task<string?> EndSessionUrlAsync(
        HttpContext http, OidcProvider provider, HostAllowList hosts, ReadOnlyMemory<byte> tokenKey, string session, ILogger log)
    {
        var hint = http.Request.Cookies[HintCookie] is { Length: > 0 } sealedHint ? Open(tokenKey.Span, session, sealedHint) : null;
        string postLogout;
        OidcMetadata meta;
        try
        {
            postLogout = PostLogoutRedirectUri(http, provider.Settings, hosts);
            meta = await provider.MetadataAsync(http.RequestAborted);
        }
        catch (OidcException e)
        {
            LogLocalOnly(log, e.Message);
            return null;
        }

        if (meta.EndSessionEndpoint is not { } endpoint)
        {
            return null;
        }

        var query = new Dictionary<string, string?>
        {
            ["client_id"] = provider.Settings.ClientId,
            ["post_logout_redirect_uri"] = postLogout,
        };
        if (hint is not null)
        {
            query["id_token_hint"] = hint;
        }

        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(endpoint, query);
    }

    /// <summary>The console's root the provider sends the browser back to: configured, from the callback's origin, or this console's own under the Host the browser used.</summary>
    internal static string PostLogoutRedirectUri(HttpContext http, OidcSettings settings, HostAllowList hosts)
    {
        if (settings.PostLogoutRedirectUrl is { } configured)
        {
            return configured;
        }

        if (settings.RedirectUrl is { } callback)
        {
            return new Uri(callback).GetLeftPart(UriPartial.Authority) + "/";
        }

        var host = http.Request.Host;
        if (!host.HasValue || !hosts.AllowsHost(host.Host))
        {
            throw new OidcException($"this member does not answer for the host name '{host.Host}': set --oidc-post-logout-redirect-url");
        }

        return $"{http.Request.Scheme}://{host.Value}/";
    }

    private static CookieOptions CookieOptions(HttpContext http, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        Secure = http.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = CookiePath,
        MaxAge = maxAge,
    };

    private static byte[] HintKey(ReadOnlySpan<byte> tokenKey) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, tokenKey.ToArray(), 32, info: "conclave/oidc-logout/v1"u8.ToArray());

    /// <summary>The session the hint belongs to, as associated data: a hint opens only with the session it was kept for.</summary>
    private static byte[] Binding(string session) => SHA256.HashData(Encoding.UTF8.GetBytes("conclave_oidc_logout\n" + session));

    /// <summary>AES-256-GCM under a key derived from the cluster's token key, bound to the session: nonce, ciphertext, tag; base64url.</summary>
    internal static string Seal(ReadOnlySpan<byte> tokenKey, string session, string idToken)
    {
        var plain = Encoding.UTF8.GetBytes(idToken);
        var output = new byte[12 + plain.Length + 16];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(HintKey(tokenKey), 16);
        aes.Encrypt(output.AsSpan(0, 12), plain, output.AsSpan(12, plain.Length), output.AsSpan(12 + plain.Length), Binding(session));
        return Base64Url.Encode(output);
    }

    /// <summary>The ID token a cookie holds for <paramref name="session"/>, or null (another session's, another cluster's, or not a hint).</summary>
    internal static string? Open(ReadOnlySpan<byte> tokenKey, string session, string cookie)
    {
        if (cookie.Length > MaxHintCookieChars || Base64Url.Decode(cookie) is not { Length: > 12 + 16 } bytes)
        {
            return null;
        }

        var plain = new byte[bytes.Length - 12 - 16];
        try
        {
            using var aes = new AesGcm(HintKey(tokenKey), 16);
            aes.Decrypt(bytes.AsSpan(0, 12), bytes.AsSpan(12, plain.Length), bytes.AsSpan(12 + plain.Length), plain, Binding(session));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        return Encoding.UTF8.GetString(plain);
    }

    [LoggerMessage(EventId = 3353, Level = LogLevel.Warning, Message = "OIDC sign-out ends the console session only (the provider's session stays): {Reason}")]
    private static partial void LogLocalOnly(ILogger logger, string reason);
}

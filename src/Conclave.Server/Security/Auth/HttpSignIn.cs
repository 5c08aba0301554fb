using System.Text.Json.Serialization;
using Conclave.Api.Errors;
using Conclave.Server.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Security.Auth;

/// <summary>
/// Who calls the HTTP API (<c>/api/v1</c>, its server-sent events included) while auth is enabled (ADR 0014): a token
/// from <c>Authenticate</c> (the gRPC service, the gateway's <c>/v3/auth/authenticate</c>, or <c>POST
/// /api/v1/session</c>) as <c>Authorization: Bearer &lt;token&gt;</c>, or the console's session cookie holding one.
/// Anything else is answered 401 with a problem. The cookie is HttpOnly, SameSite=Strict and Secure over TLS; a
/// state-changing request made with it must also pass <see cref="CrossSiteGuard"/> (same origin, JSON bodies), so
/// another site cannot make a signed-in browser act. While auth is disabled nothing changes: every caller is "".
/// </summary>
internal static class HttpSignIn
{
    public const string CookieName = "conclave_session";
    private const string UserItem = "conclave.user";
    private const string SessionItem = "conclave.session";

    /// <summary>The signed-in user of a request under <c>/api/v1</c>; "" while auth is disabled.</summary>
    public static string UserOf(HttpContext http) => http.Items.TryGetValue(UserItem, out var user) && user is string name ? name : "";

    /// <summary>
    /// The roles a request's session brings with it: the groups the OpenID Connect provider vouched for, for a console
    /// session made by OIDC sign-in; empty otherwise (a local user's roles are the auth store's, read there).
    /// </summary>
    public static IReadOnlyList<string> RolesOf(HttpContext http) =>
        http.Items.TryGetValue(SessionItem, out var s) && s is SessionIdentity { Provider: SessionIdentity.Oidc } session ? session.Groups : [];

    /// <summary>How the request's user signed in: <c>local</c> (the auth store), <c>oidc</c>, or null (not signed in).</summary>
    public static string? ProviderOf(HttpContext http) => http.Items.TryGetValue(SessionItem, out var s) && s is SessionIdentity session ? session.Provider : null;

    /// <summary>Whether the request's user is known (auth is enabled and the request signed in).</summary>
    public static bool IsSignedIn(HttpContext http) => http.Items.ContainsKey(UserItem);

    /// <summary>Requires sign-in for <c>/api/v1</c> (but the session endpoints and its OpenAPI document) while auth is enabled.</summary>
    public static void Use(WebApplication app)
    {
        app.Use(next => async context =>
        {
            var path = context.Request.Path;
            // The API's description is route shapes only, public in the source: anyone may read it (docs/server.md).
            if (!path.StartsWithSegments("/api/v1", StringComparison.Ordinal) || path.StartsWithSegments(SessionPath, StringComparison.Ordinal)
                || path.Equals(ApiDocument.Path, StringComparison.Ordinal))
            {
                await next(context);
                return;
            }

            var node = context.RequestServices.GetRequiredService<Node.ConclaveNode>();
            var state = node.Store.Auth;
            if (!state.Enabled)
            {
                await next(context);
                return;
            }

            var token = BearerOf(context) ?? context.Request.Cookies[CookieName];
            if (string.IsNullOrEmpty(token) && Config.ClientCallers.IsClientEndpoint(path) && Config.ClientCallers.KeyOf(context.Request) is not null)
            {
                // An app credential instead of a sign-in (ADR 0015): the endpoint checks it.
                await next(context);
                return;
            }

            if (string.IsNullOrEmpty(token))
            {
                await RefuseAsync(context, "sign in: send Authorization: Bearer <token> (from POST /api/v1/session or Authenticate), or sign in to the console");
                return;
            }

            try
            {
                var session = ValidateSession(context.RequestServices, state, token);
                context.Items[UserItem] = session.Name;
                context.Items[SessionItem] = session;
            }
            catch (ConclaveErrorException e)
            {
                await RefuseAsync(context, e.Message);
                return;
            }

            await next(context);
        });
    }

    private const string SessionPath = "/api/v1/session";

    /// <summary>The console's sign-in: who is signed in, sign in, sign out (with the OpenID Connect provider's sign-out when there is one).</summary>
    public static void Map(IEndpointRouteBuilder app, Oidc.OidcProvider? oidcProvider, HostAllowList hosts)
    {
        app.MapGet(SessionPath, (HttpContext http, Node.ConclaveNode node, Oidc.OidcSettings oidc) =>
        {
            var state = node.Store.Auth;
            SessionIdentity? session = null;
            if (state.Enabled && (BearerOf(http) ?? http.Request.Cookies[CookieName]) is { Length: > 0 } token)
            {
                try
                {
                    session = ValidateSession(http.RequestServices, state, token);
                }
                catch (ConclaveErrorException)
                {
                    // An ended session: signed out.
                }
            }

            return TypedResults.Ok(new SessionView(state.Enabled, session?.Name, null)
            {
                Provider = session?.Provider,
                Roles = session is null ? null
                    : session.Provider == SessionIdentity.Oidc ? [.. session.Groups]
                    : [.. state.FindUser(session.Name)?.Roles ?? []],
                Oidc = oidc.Enabled && state.Enabled ? new OidcOffer(oidc.DisplayName, Oidc.OidcSignIn.StartPath) : null,
            });
        }).ProducesProblems(ProblemResponses.BeforeHandler);

        app.MapPost(SessionPath, async (SignIn request, HttpContext http, Node.ConclaveNode node, Passwords passwords, IAuthTokens tokens) =>
        {
            try
            {
                await node.Consensus.ReadBarrierAsync(http.RequestAborted);
            }
            catch (Cluster.ConsensusUnavailableException e)
            {
                http.Response.Headers.RetryAfter = "1";
                return Problems.Of(StatusCodes.Status503ServiceUnavailable, "unavailable", "Unavailable", e.Message, http);
            }

            var state = node.Store.Auth;
            if (!state.Enabled)
            {
                return Problems.Of(StatusCodes.Status409Conflict, "auth is not enabled", "AuthNotEnabled", "auth is not enabled: nobody needs to sign in (etcdctl auth enable switches it on)", http);
            }

            var user = state.FindUser(request.Name ?? "");
            try
            {
                if (!await passwords.VerifyAsync(user, request.Password ?? "", http.RequestAborted))
                {
                    return Problems.Of(StatusCodes.Status401Unauthorized, "sign-in failed", "AuthFailed", "wrong user name or password", http);
                }
            }
            catch (ConclaveErrorException e) when (e.Code == ErrorCode.TooManyRequests)
            {
                http.Response.Headers.RetryAfter = "1";
                return Problems.Of(StatusCodes.Status429TooManyRequests, "too many requests", e.Code.ToString(), e.Message, http);
            }

            var token = tokens.Issue(state, user!);
            http.Response.Cookies.Append(CookieName, token, SessionCookieOptions(http, tokens.Ttl));
            return Results.Ok(new SessionView(true, user!.Name, token) { Provider = SessionIdentity.Local, Roles = [.. user.Roles] });
        })
        .Produces<SessionView>()
        .ProducesProblems([.. ProblemResponses.BeforeHandler, StatusCodes.Status401Unauthorized, StatusCodes.Status409Conflict, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable]);

        // Sign-out: the session cookie goes; for a session from OpenID Connect whose provider has an end-session
        // endpoint, the answer also says where the browser goes to end the provider's session (RP-Initiated Logout).
        // A write, so the cross-site guard refuses it from other origins; nothing in the request picks that address.
        app.MapDelete(SessionPath, async (HttpContext http, Node.ConclaveNode node, ILoggerFactory logs) =>
        {
            var token = http.Request.Cookies[CookieName];
            http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", Secure = http.Request.IsHttps, SameSite = SameSiteMode.Strict, HttpOnly = true });
            Oidc.OidcLogout.ForgetHint(http);
            http.Response.Headers.CacheControl = "no-store";
            var state = node.Store.Auth;
            if (oidcProvider is null || !state.Enabled || token is not { Length: > 0 })
            {
                return Results.NoContent();
            }

            try
            {
                if (ValidateSession(http.RequestServices, state, token).Provider != SessionIdentity.Oidc)
                {
                    return Results.NoContent();
                }
            }
            catch (ConclaveErrorException)
            {
                return Results.NoContent(); // an ended session: nothing to end at the provider on its behalf
            }

            var log = logs.CreateLogger(typeof(Oidc.OidcLogout).FullName!);
            return await Oidc.OidcLogout.EndSessionUrlAsync(http, oidcProvider, hosts, state.TokenKey, token, log) is { } url
                ? Results.Ok(new SignOut(url))
                : Results.NoContent();
        })
        .Produces<SignOut>()
        .Produces(StatusCodes.Status204NoContent)
        .ProducesProblems(ProblemResponses.BeforeHandler);
    }

    /// <summary>The session cookie: HttpOnly, SameSite=Strict, Secure over TLS, for a token's TTL.</summary>
    public static CookieOptions SessionCookieOptions(HttpContext http, AuthSettings settings) => SessionCookieOptions(http, settings.TokenTtl);

    /// <summary>The session cookie for a token that lasts <paramref name="ttl"/>.</summary>
    public static CookieOptions SessionCookieOptions(HttpContext http, TimeSpan ttl) => new()
    {
        HttpOnly = true,
        Secure = http.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = "/",
        MaxAge = ttl,
    };

    /// <summary>
    /// Who a token of <c>/api/v1</c> or the console names: a JWT (under <c>--auth-token jwt</c>) is a local user's; anything
    /// else is a simple token, a local user's or an OpenID Connect session.
    /// </summary>
    internal static SessionIdentity ValidateSession(IServiceProvider services, Storage.Auth.AuthState state, string token) =>
        services.GetRequiredService<IAuthTokens>() is JwtTokens jwt && token.AsSpan().Count('.') == 2
            ? new SessionIdentity(jwt.Validate(state, token), SessionIdentity.Local, [])
            : services.GetRequiredService<SimpleTokens>().ValidateSession(state, token);

    /// <summary>Requires the root role of the request's user (no-op while auth is disabled).</summary>
    public static void RequireAdmin(HttpContext http) =>
        http.RequestServices.GetRequiredService<Node.ConclaveNode>().Store.Auth.CheckAdmin(UserOf(http));

    private static string? BearerOf(HttpContext http)
    {
        var header = http.Request.Headers.Authorization;
        return header.Count == 1 && header[0] is { } value && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? value[7..].Trim() : null;
    }

    private static Task RefuseAsync(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Of(StatusCodes.Status401Unauthorized, "sign-in required", "Unauthenticated", detail, context).ExecuteAsync(context);
    }
}

/// <summary>A sign-in request: the user and password of the auth store.</summary>
public sealed record SignIn(string? Name, string? Password);

/// <summary>
/// Whether auth is on, who is signed in (null: nobody), how (<c>local</c> or <c>oidc</c>) and with which roles (the auth
/// store's, or the provider's groups), the OpenID Connect sign-in the console may offer, and, right after sign-in, the
/// token (for API callers).
/// </summary>
public sealed record SessionView(bool AuthEnabled, string? User, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Token)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Provider { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? Roles { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public OidcOffer? Oidc { get; init; }
}

/// <summary>
/// A sign-out that has one more step: the browser goes to <paramref name="EndSessionUrl"/>, the OpenID Connect provider's
/// end-session endpoint, which ends the provider's session and sends it back to the console's sign-in page.
/// </summary>
public sealed record SignOut(string EndSessionUrl);

/// <summary>OpenID Connect sign-in offered by this member: the provider's name (for the button) and where it starts.</summary>
public sealed record OidcOffer(string Name, string Url);

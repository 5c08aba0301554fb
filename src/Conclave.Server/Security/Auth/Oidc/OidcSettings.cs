namespace Conclave.Server.Security.Auth.Oidc;

/// <summary>
/// OpenID Connect sign-in for the console (<c>--oidc-*</c>; docs/security.md#openid-connect). Off while
/// <see cref="Issuer"/> is null. It means something only while auth is enabled: a session names a user only then.
/// </summary>
public sealed record OidcSettings
{
    /// <summary>The provider's issuer URL (<c>--oidc-issuer</c>); its discovery document must name exactly this issuer.</summary>
    public string? Issuer { get; init; }

    /// <summary>This console's client id at the provider (<c>--oidc-client-id</c>).</summary>
    public string ClientId { get; init; } = "";

    /// <summary>The client secret (<c>--oidc-client-secret-file</c> or <c>CONCLAVE_OIDC_CLIENT_SECRET</c>; never a flag).</summary>
    public string ClientSecret { get; init; } = "";

    /// <summary>The ID token claim that names the user (<c>--oidc-username-claim</c>); <c>sub</c> when the token lacks it.</summary>
    public string UsernameClaim { get; init; } = "preferred_username";

    /// <summary>The ID token claim that lists the user's groups, which become its roles (<c>--oidc-groups-claim</c>).</summary>
    public string GroupsClaim { get; init; } = "groups";

    /// <summary>The scopes asked for (<c>--oidc-scopes</c>); those the provider does not list are left out, <c>openid</c> always sent.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = ["openid", "profile", "groups"];

    /// <summary>
    /// The callback URL registered at the provider (<c>--oidc-redirect-url</c>); null: the console's own
    /// <c>/api/v1/session/oidc/callback</c> under the scheme and host the browser used (a host the member answers).
    /// </summary>
    public string? RedirectUrl { get; init; }

    /// <summary>
    /// Where the provider sends the browser after sign-out ends its session (<c>--oidc-post-logout-redirect-url</c>, the
    /// <c>post_logout_redirect_uri</c> registered at the provider; RP-Initiated Logout); null: the console's root
    /// (<c>/</c>, its sign-in page) under the origin of <see cref="RedirectUrl"/>, or under the host the browser used.
    /// </summary>
    public string? PostLogoutRedirectUrl { get; init; }

    /// <summary>The name on the console's button (<c>--oidc-provider-name</c>); null: the issuer's host.</summary>
    public string? ProviderName { get; init; }

    /// <summary>Whether OIDC sign-in is configured.</summary>
    public bool Enabled => Issuer is not null;

    /// <summary>The name on the console's "Sign in with ..." button.</summary>
    public string DisplayName => ProviderName is { Length: > 0 } name ? name : Uri.TryCreate(Issuer, UriKind.Absolute, out var uri) ? uri.Host : "OpenID Connect";

    /// <summary>Checks the settings at start, saying what to fix.</summary>
    /// <exception cref="ArgumentException">An incomplete or unsafe configuration.</exception>
    public void Validate(bool anyHostAllowed)
    {
        if (!Enabled)
        {
            return;
        }

        if (!Uri.TryCreate(Issuer, UriKind.Absolute, out var issuer) || (issuer.Scheme != Uri.UriSchemeHttps && !(issuer.Scheme == Uri.UriSchemeHttp && issuer.IsLoopback))
            || issuer.Query.Length > 0 || issuer.Fragment.Length > 0)
        {
            throw new ArgumentException($"--oidc-issuer '{Issuer}': an https:// URL without query or fragment (http:// only on loopback, for tests)");
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            throw new ArgumentException("--oidc-issuer needs --oidc-client-id (the console's client id at the provider)");
        }

        if (string.IsNullOrEmpty(ClientSecret))
        {
            throw new ArgumentException("--oidc-issuer needs the client secret: --oidc-client-secret-file PATH or the CONCLAVE_OIDC_CLIENT_SECRET environment variable");
        }

        if (string.IsNullOrWhiteSpace(UsernameClaim) || string.IsNullOrWhiteSpace(GroupsClaim))
        {
            throw new ArgumentException("--oidc-username-claim and --oidc-groups-claim must name claims");
        }

        if (PostLogoutRedirectUrl is not null
            && (!Uri.TryCreate(PostLogoutRedirectUrl, UriKind.Absolute, out var postLogout) || (postLogout.Scheme != Uri.UriSchemeHttps && postLogout.Scheme != Uri.UriSchemeHttp)
                || postLogout.Fragment.Length > 0 || postLogout.UserInfo.Length > 0))
        {
            throw new ArgumentException($"--oidc-post-logout-redirect-url '{PostLogoutRedirectUrl}': the console's URL registered at the provider, an http(s) URL without fragment");
        }

        if (RedirectUrl is not null)
        {
            if (!Uri.TryCreate(RedirectUrl, UriKind.Absolute, out var redirect) || (redirect.Scheme != Uri.UriSchemeHttps && redirect.Scheme != Uri.UriSchemeHttp)
                || redirect.AbsolutePath != OidcSignIn.CallbackPath || redirect.Query.Length > 0 || redirect.Fragment.Length > 0)
            {
                throw new ArgumentException($"--oidc-redirect-url '{RedirectUrl}': the console's callback, an http(s) URL whose path is {OidcSignIn.CallbackPath}");
            }
        }
        else if (anyHostAllowed)
        {
            throw new ArgumentException(
                "--host-whitelist '*' answers any host name, so the OIDC callback URL cannot be taken from the request: set --oidc-redirect-url to the URL registered at the provider");
        }
    }
}

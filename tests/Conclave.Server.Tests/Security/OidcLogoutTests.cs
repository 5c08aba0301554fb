using System.Security.Cryptography;
using Conclave.Server.Http;
using Conclave.Server.Security.Auth.Oidc;
using Microsoft.AspNetCore.Http;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// The parts of RP-Initiated Logout that need no provider: the ID token kept for sign-out opens only with the session
/// and the cluster it was sealed for; the post-logout URL is configured, or the console's root under the callback's
/// origin or an allowed host, never anything else; a configured one must be an http(s) URL without fragment.
/// </summary>
public sealed class OidcLogoutTests
{
    private static readonly byte[] TokenKey = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void A_kept_ID_token_opens_only_with_its_session_and_its_clusters_key()
    {
        const string idToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYXJvbCJ9.c2lnbmF0dXJl";
        var cookie = OidcLogout.Seal(TokenKey, "session-a", idToken);
        Assert.Equal(idToken, OidcLogout.Open(TokenKey, "session-a", cookie));
        Assert.Null(OidcLogout.Open(TokenKey, "session-b", cookie));
        Assert.Null(OidcLogout.Open(RandomNumberGenerator.GetBytes(32), "session-a", cookie));
        Assert.Null(OidcLogout.Open(TokenKey, "session-a", cookie[..^2]));
        Assert.Null(OidcLogout.Open(TokenKey, "session-a", "not base64url!"));
        Assert.Null(OidcLogout.Open(TokenKey, "session-a", new string('A', OidcLogout.MaxHintCookieChars + 4)));
    }

    [Fact]
    public void The_post_logout_url_is_configured_or_the_consoles_root_never_from_the_query()
    {
        var hosts = HostAllowList.Create(null, ["http://127.0.0.1:2380"]);
        var http = new DefaultHttpContext();
        http.Request.Scheme = "http";
        http.Request.Host = new HostString("127.0.0.1", 8080);
        http.Request.QueryString = new QueryString("?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F");
        var settings = new OidcSettings { Issuer = "https://idp.example", ClientId = "c", ClientSecret = "s" };

        Assert.Equal("http://127.0.0.1:8080/", OidcLogout.PostLogoutRedirectUri(http, settings, hosts));
        Assert.Equal("https://console.example:8443/", OidcLogout.PostLogoutRedirectUri(
            http, settings with { RedirectUrl = "https://console.example:8443" + OidcSignIn.CallbackPath }, hosts));
        Assert.Equal("https://console.example/signed-out", OidcLogout.PostLogoutRedirectUri(
            http, settings with { PostLogoutRedirectUrl = "https://console.example/signed-out", RedirectUrl = "https://other.example" + OidcSignIn.CallbackPath }, hosts));

        // A host the member does not answer for is no console of its own.
        http.Request.Host = new HostString("evil.example");
        Assert.Throws<OidcException>(() => OidcLogout.PostLogoutRedirectUri(http, settings, hosts));
    }

    [Theory]
    [InlineData("javascript:alert(1)")]
    [InlineData("ftp://console.example/")]
    [InlineData("https://console.example/#fragment")]
    [InlineData("https://user:pw@console.example/")]
    [InlineData("/relative")]
    public void A_configured_post_logout_url_must_be_an_http_url_without_fragment(string url)
    {
        var settings = new OidcSettings { Issuer = "https://idp.example", ClientId = "c", ClientSecret = "s", PostLogoutRedirectUrl = url };
        var refused = Assert.Throws<ArgumentException>(() => settings.Validate(anyHostAllowed: false));
        Assert.Contains("--oidc-post-logout-redirect-url", refused.Message, StringComparison.Ordinal);
    }
}

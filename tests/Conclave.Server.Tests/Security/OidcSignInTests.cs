using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Conclave.Server.Security.Auth;
using Conclave.Server.Security.Auth.Oidc;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// OpenID Connect sign-in at the HTTP level, against a real provider (the npm <c>oidc-provider</c>, started as a process):
/// this test is the browser, following the redirects by hand, logging in at the provider's own form, and handing the
/// member the provider's answer. A good sign-in gives a session for <c>/api/v1</c> (user, provider, groups as roles); a
/// wrong state, a replayed code, a missing flow cookie, a tampered, foreign, expired or unsigned ID token, a name of a
/// local user, or a provider that is down end on the sign-in page with the reason and no session cookie.
/// </summary>
public sealed class OidcSignInTests(ITestOutputHelper output)
{
    private static ServerOptions With(ServerOptions o, string issuer) => o with
    {
        Auth = new AuthSettings { BcryptCost = 4 },
        Oidc = new OidcSettings { Issuer = issuer, ClientId = OidcTestProvider.ClientIdFor, ClientSecret = OidcTestProvider.SecretFor, ProviderName = "Test IdP" },
    };

    private static async Task EnableAuthAsync(string endpoint)
    {
        foreach (var step in new[] { "user add root:rootpw", "auth enable" })
        {
            (await Etcdctl.RunAsync(endpoint, step.Split(' '))).EnsureSuccess();
        }
    }

    private static string Callback(string httpUrl) => httpUrl.TrimEnd('/') + OidcSignIn.CallbackPath;

    /// <summary>A member (auth enabled) and the provider, which knows the member's callback.</summary>
    private async Task<(TestNode Node, OidcTestProvider Provider)> StartAsync(string alg = "RS256")
    {
        var port = OidcTestProvider.ReservePort();
        var node = await TestNode.StartInProcessAsync(output, o => With(o, OidcTestProvider.IssuerAt(port)));
        try
        {
            await EnableAuthAsync(node.Endpoint);
            var provider = await OidcTestProvider.StartAsync([Callback(node.HttpUrl)], output, alg, testHooks: true, port: port);
            return (node, provider);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    public async Task Signing_in_at_the_provider_gives_a_session_with_the_users_groups(string alg)
    {
        var (node, provider) = await StartAsync(alg);
        await using var nodeScope = node;
        await using var providerScope = provider;

        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol", "#/apps/demo");
        using var answer = await CallbackAsync(callback, flow);
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal("/#/apps/demo", answer.Headers.Location!.OriginalString);
        var session = SessionCookie(answer) ?? throw new Xunit.Sdk.XunitException("no session cookie");
        var setCookie = string.Join("\n", answer.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);

        using var http = Client(node.HttpUrl);
        var view = await GetSessionAsync(http, session);
        Assert.Equal("carol", view.GetProperty("user").GetString());
        Assert.Equal("oidc", view.GetProperty("provider").GetString());
        Assert.Equal(["config-editors"], view.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()));

        // The session opens /api/v1 (the console's API); the token is not an etcd user's token.
        using var apps = new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps");
        apps.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={session}");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(apps)).StatusCode);
        var tokens = node.Server.Services.GetRequiredService<SimpleTokens>();
        var refused = Assert.Throws<Conclave.Api.Errors.ConclaveErrorException>(() => tokens.Validate(node.Server.Node.Store.Auth, session));
        Assert.Contains("OpenID Connect", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_state_a_replayed_code_or_no_flow_cookie_is_refused_without_a_session()
    {
        var (node, provider) = await StartAsync();
        await using var nodeScope = node;
        await using var providerScope = provider;

        // Another state than the one this browser's flow holds.
        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        var forged = System.Text.RegularExpressions.Regex.Replace(callback, "state=[^&]+", "state=forged");
        await RefusedAsync(await CallbackAsync(forged, flow), "its state differs");

        // No flow cookie: the answer did not start in this browser.
        (callback, _) = await AtProviderAsync(node.HttpUrl, "carol");
        await RefusedAsync(await CallbackAsync(callback, null), "not started in this browser");

        // A code is good once: the same answer again (with the same flow cookie) is refused by the provider.
        (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        using (var first = await CallbackAsync(callback, flow))
        {
            Assert.NotNull(SessionCookie(first));
        }

        await RefusedAsync(await CallbackAsync(callback, flow), "invalid_grant");

        // The provider says no (the user cancelled): its reason is shown.
        (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        var state = System.Text.RegularExpressions.Regex.Match(callback, "state=([^&]+)").Groups[1].Value;
        await RefusedAsync(await CallbackAsync($"{Callback(node.HttpUrl)}?error=access_denied&error_description=cancelled&state={state}", flow), "access_denied (cancelled)");
    }

    [Theory]
    [InlineData("signature", "signature is not valid")]
    [InlineData("payload", "signature is not valid")]
    [InlineData("audience", "meant for another client")]
    [InlineData("expired", "has expired")]
    [InlineData("nonce", "nonce")]
    [InlineData("issuer", "not by the configured issuer")]
    [InlineData("none", "signed with 'none'")]
    public async Task A_bad_ID_token_from_the_token_endpoint_is_refused_without_a_session(string mode, string reason)
    {
        var (node, provider) = await StartAsync();
        await using var nodeScope = node;
        await using var providerScope = provider;

        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        await provider.MisbehaveAsync(mode);
        await RefusedAsync(await CallbackAsync(callback, flow), reason);
    }

    [Fact]
    public async Task A_provider_name_of_a_local_user_is_refused()
    {
        var (node, provider) = await StartAsync();
        await using var nodeScope = node;
        await using var providerScope = provider;

        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "root");
        await RefusedAsync(await CallbackAsync(callback, flow), "'root' is a user of this cluster's auth store");
    }

    [Fact]
    public async Task A_provider_that_is_down_or_auth_disabled_ends_on_the_sign_in_page()
    {
        // Nothing listens at the issuer.
        var port = OidcTestProvider.ReservePort();
        await using (var node = await TestNode.StartInProcessAsync(output, o => With(o, OidcTestProvider.IssuerAt(port))))
        {
            using var http = Client(node.HttpUrl);

            // Auth disabled: no session to sign in to.
            await RefusedAsync(await http.GetAsync(OidcSignIn.StartPath), "auth is not enabled");
            Assert.False((await GetSessionAsync(http, null)).TryGetProperty("oidc", out _));

            await EnableAuthAsync(node.Endpoint);
            await RefusedAsync(await http.GetAsync(OidcSignIn.StartPath), "cannot be reached");
            Assert.Equal("Test IdP", (await GetSessionAsync(http, null)).GetProperty("oidc").GetProperty("name").GetString());
        }
    }

    [Fact]
    public async Task A_session_from_one_member_holds_on_the_others()
    {
        var port = OidcTestProvider.ReservePort();
        await using var cluster = await TestCluster.StartAsync(3, output, o => With(o, OidcTestProvider.IssuerAt(port)));
        var leader = await cluster.WaitForLeaderAsync();
        await EnableAuthAsync(cluster.Endpoints[leader]);
        await using var provider = await OidcTestProvider.StartAsync([.. Enumerable.Range(0, 3).Select(i => Callback(cluster.HttpUrl(i)))], output, port: port);

        var first = (leader + 1) % 3;
        var (callback, flow) = await AtProviderAsync(cluster.HttpUrl(first), "dave");
        using var answer = await CallbackAsync(callback, flow);
        var session = SessionCookie(answer) ?? throw new Xunit.Sdk.XunitException("no session cookie");
        for (var i = 0; i < 3; i++)
        {
            using var http = Client(cluster.HttpUrl(i));
            var view = await GetSessionAsync(http, session);
            Assert.Equal("dave", view.GetProperty("user").GetString());
            Assert.Equal(["viewers", "ops"], view.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()));
        }
    }

    [Fact]
    public async Task Sign_out_sends_the_browser_to_the_providers_end_session_endpoint_and_nowhere_a_request_names()
    {
        var port = OidcTestProvider.ReservePort();
        const string postLogout = "http://localhost:1/console/";
        await using var node = await TestNode.StartInProcessAsync(output, o => With(o, OidcTestProvider.IssuerAt(port)) with
        {
            Oidc = With(o, OidcTestProvider.IssuerAt(port)).Oidc with { PostLogoutRedirectUrl = postLogout },
        });
        await EnableAuthAsync(node.Endpoint);
        await using var provider = await OidcTestProvider.StartAsync([Callback(node.HttpUrl)], output, port: port, postLogoutRedirectUris: [postLogout]);

        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        using var answer = await CallbackAsync(callback, flow);
        var session = SessionCookie(answer) ?? throw new Xunit.Sdk.XunitException("no session cookie");
        var hint = CookieValue(answer, OidcLogout.HintCookie) ?? throw new Xunit.Sdk.XunitException("no logout hint cookie");
        var hintSetCookie = answer.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(OidcLogout.HintCookie + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", hintSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", hintSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/api/v1/session", hintSetCookie, StringComparison.OrdinalIgnoreCase);

        // An attacker's choices in the query and the body change nothing: the target is the provider's, the way back configured.
        using var http = Client(node.HttpUrl);
        using var signOut = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/session?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F&return=https%3A%2F%2Fevil.example%2F")
        {
            Content = new StringContent("""{"post_logout_redirect_uri":"https://evil.example/","endSessionUrl":"https://evil.example/"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        signOut.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={session}; {OidcLogout.HintCookie}={hint}");
        signOut.Headers.Add("Origin", node.HttpUrl.TrimEnd('/'));
        using var signedOut = await http.SendAsync(signOut);
        Assert.Equal(HttpStatusCode.OK, signedOut.StatusCode);
        var setCookies = string.Join("\n", signedOut.Headers.GetValues("Set-Cookie"));
        Assert.Contains($"{HttpSignIn.CookieName}=;", setCookies, StringComparison.Ordinal);
        Assert.Contains($"{OidcLogout.HintCookie}=;", setCookies, StringComparison.Ordinal);
        var url = new Uri(JsonDocument.Parse(await signedOut.Content.ReadAsStringAsync()).RootElement.GetProperty("endSessionUrl").GetString()!);
        output.WriteLine($"end session: {url.GetLeftPart(UriPartial.Path)}");
        Assert.Equal(new Uri(provider.Issuer).Authority, url.Authority);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(url.Query);
        Assert.Equal(postLogout, query["post_logout_redirect_uri"].ToString());
        Assert.Equal(OidcTestProvider.ClientIdFor, query["client_id"].ToString());
        Assert.DoesNotContain("evil", url.ToString(), StringComparison.Ordinal);

        // The hint is the ID token the sign-in got: carol's, for this client, from this issuer; sealed in its cookie.
        var idTokenPayload = query["id_token_hint"].ToString().Split('.')[1];
        Assert.DoesNotContain(idTokenPayload[..20], hint, StringComparison.Ordinal);
        var claims = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(idTokenPayload)).RootElement;
        Assert.Equal("carol", claims.GetProperty("sub").GetString());
        Assert.Equal(OidcTestProvider.ClientIdFor, claims.GetProperty("aud").GetString());
        Assert.Equal(provider.Issuer, claims.GetProperty("iss").GetString());

        // The provider accepts it: its "sign out?" page, and after "yes" the configured way back.
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { Timeout = TimeSpan.FromSeconds(30) };
        var page = await (await browser.GetAsync(url)).Content.ReadAsStringAsync();
        var xsrf = System.Text.RegularExpressions.Regex.Match(page, "name=\"xsrf\" value=\"([^\"]+)\"").Groups[1].Value;
        var action = System.Text.RegularExpressions.Regex.Match(page, "action=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(xsrf);
        using var confirmed = await browser.PostAsync(new Uri(url, action), new FormUrlEncodedContent([new("xsrf", xsrf), new("logout", "yes")]));
        var back = confirmed.Headers.Location!;
        for (var step = 0; step < 3 && !back.ToString().StartsWith(postLogout, StringComparison.Ordinal); step++)
        {
            using var next = await browser.GetAsync(new Uri(url, back));
            back = next.Headers.Location ?? throw new Xunit.Sdk.XunitException($"the provider stopped at {back} with HTTP {(int)next.StatusCode}");
        }

        Assert.StartsWith(postLogout, back.ToString(), StringComparison.Ordinal);

        // Another origin cannot sign the browser out (a write); a hint of another session is not sent; a local session or none: 204.
        using var crossSite = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/session");
        crossSite.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={session}");
        crossSite.Headers.Add("Origin", "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(crossSite)).StatusCode);

        (callback, flow) = await AtProviderAsync(node.HttpUrl, "dave");
        using var second = await CallbackAsync(callback, flow);
        using var mixed = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/session");
        mixed.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={SessionCookie(second)}; {OidcLogout.HintCookie}={hint}");
        using var mixedAnswer = await http.SendAsync(mixed);
        var mixedUrl = JsonDocument.Parse(await mixedAnswer.Content.ReadAsStringAsync()).RootElement.GetProperty("endSessionUrl").GetString()!;
        Assert.DoesNotContain("id_token_hint", mixedUrl, StringComparison.Ordinal);
        Assert.Contains("client_id=", mixedUrl, StringComparison.Ordinal);

        using var local = await http.PostAsync("/api/v1/session", JsonContent.Create(new { name = "root", password = "rootpw" }));
        using var localOut = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/session");
        localOut.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={SessionCookie(local)}");
        Assert.Equal(HttpStatusCode.NoContent, (await http.SendAsync(localOut)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/api/v1/session")).StatusCode);
    }

    [Fact]
    public async Task Without_an_end_session_endpoint_sign_out_is_local_only()
    {
        var port = OidcTestProvider.ReservePort();
        await using var node = await TestNode.StartInProcessAsync(output, o => With(o, OidcTestProvider.IssuerAt(port)));
        await EnableAuthAsync(node.Endpoint);
        await using var provider = await OidcTestProvider.StartAsync([Callback(node.HttpUrl)], output, port: port, endSession: false);

        var (callback, flow) = await AtProviderAsync(node.HttpUrl, "carol");
        using var answer = await CallbackAsync(callback, flow);
        using var http = Client(node.HttpUrl);
        using var signOut = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/session");
        signOut.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={SessionCookie(answer)}; {OidcLogout.HintCookie}={CookieValue(answer, OidcLogout.HintCookie)}");
        using var signedOut = await http.SendAsync(signOut);
        Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
        Assert.Contains($"{HttpSignIn.CookieName}=;", string.Join("\n", signedOut.Headers.GetValues("Set-Cookie")), StringComparison.Ordinal);
    }

    // --- the browser's part, by hand ---

    private static HttpClient Client(string baseUrl) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts the sign-in at the member, logs in at the provider's form; returns the callback URL the provider sends the browser to, and the flow cookie.</summary>
    private async Task<(string Callback, string Flow)> AtProviderAsync(string memberUrl, string user, string? returnTo = null)
    {
        using var member = Client(memberUrl);
        using var start = await member.GetAsync(OidcSignIn.StartPath + (returnTo is null ? "" : "?return=" + Uri.EscapeDataString(returnTo)));
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var flow = CookieValue(start, OidcSignIn.FlowCookie) ?? throw new Xunit.Sdk.XunitException("no flow cookie");
        var setCookie = string.Join("\n", start.Headers.GetValues("Set-Cookie"));
        Assert.Contains("samesite=lax", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        var authorize = start.Headers.Location!.ToString();
        Assert.Contains("code_challenge_method=S256", authorize, StringComparison.Ordinal);

        using var provider = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { Timeout = TimeSpan.FromSeconds(30) };
        var location = authorize;
        for (var step = 0; step < 10; step++)
        {
            using var response = location.Contains("/interaction/", StringComparison.Ordinal) && step > 0
                ? await provider.PostAsync(location, new FormUrlEncodedContent([new("prompt", "login"), new("login", user), new("password", "any")]))
                : await provider.GetAsync(location);
            var next = response.Headers.Location is { } l ? new Uri(new Uri(location), l).ToString() : null;
            if (next is null)
            {
                throw new Xunit.Sdk.XunitException($"the provider stopped at {location} with HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            if (next.StartsWith(Callback(memberUrl), StringComparison.Ordinal))
            {
                return (next, flow);
            }

            // The login form is shown by GET /interaction/{uid} and posted back to the same URL.
            if (next.Contains("/interaction/", StringComparison.Ordinal))
            {
                using var form = await provider.GetAsync(next);
                Assert.Contains("name=\"login\"", await form.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            location = next;
        }

        throw new Xunit.Sdk.XunitException("the provider never sent the browser back");
    }

    private static async Task<HttpResponseMessage> CallbackAsync(string callback, string? flow)
    {
        using var member = Client(new Uri(callback).GetLeftPart(UriPartial.Authority));
        using var request = new HttpRequestMessage(HttpMethod.Get, callback);
        if (flow is not null)
        {
            request.Headers.Add("Cookie", $"{OidcSignIn.FlowCookie}={flow}");
        }

        return await member.SendAsync(request);
    }

    /// <summary>The answer sends the browser to the sign-in page with <paramref name="reason"/> and sets no session.</summary>
    private async Task RefusedAsync(HttpResponseMessage answer, string reason)
    {
        using (answer)
        {
            Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
            var location = answer.Headers.Location!.OriginalString;
            output.WriteLine($"refused: {Uri.UnescapeDataString(location)}");
            Assert.StartsWith("/?signin_error=", location, StringComparison.Ordinal);
            Assert.Contains(reason, Uri.UnescapeDataString(location), StringComparison.Ordinal);
            Assert.Null(SessionCookie(answer));
        }
    }

    private static string? SessionCookie(HttpResponseMessage response) => CookieValue(response, HttpSignIn.CookieName) is { Length: > 0 } v ? v : null;

    private static string? CookieValue(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.Where(v => v.StartsWith(name + "=", StringComparison.Ordinal)).Select(v => v[(name.Length + 1)..].Split(';')[0]).FirstOrDefault()
            : null;

    private static async Task<JsonElement> GetSessionAsync(HttpClient http, string? session)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/session");
        if (session is not null)
        {
            request.Headers.Add("Cookie", $"{HttpSignIn.CookieName}={session}");
        }

        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}

using System.Net;
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

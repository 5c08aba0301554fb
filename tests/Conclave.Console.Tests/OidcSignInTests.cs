using Conclave.Server.Security.Auth;
using Conclave.Server.Security.Auth.Oidc;

namespace Conclave.Console.Tests;

/// <summary>
/// OpenID Connect sign-in in the console (issue 21 items 2 and 6), with real Chromium and a real provider (the npm
/// <c>oidc-provider</c>, a process of its own): the sign-in page offers "Sign in with Test IdP"; carol logs in at the
/// provider's own form and lands back in the console signed in; the who-am-I menu shows her, the provider and her group;
/// she signs out, which ends the provider's session too (RP-Initiated Logout: the provider's "sign out?" page, then back
/// to the console's sign-in page), so signing in again asks for her credentials again; a provider without an
/// end-session endpoint keeps its session (local sign-out only, and the next sign-in goes straight through). The console
/// is opened as <c>localhost</c> and the provider is <c>127.0.0.1</c>, so the way back is a cross-site redirect, as with
/// a real provider (the flow cookie is SameSite=Lax for that reason).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class OidcSignInTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public async Task Sign_in_with_the_provider_see_who_am_I_and_sign_out()
    {
        var (node, console, port) = await StartMemberAsync();
        await using var nodeScope = node;
        await using var provider = await OidcTestProvider.StartAsync(
            [console.TrimEnd('/') + "/api/v1/session/oidc/callback"], Output, port: port, postLogoutRedirectUris: [console.TrimEnd('/') + "/"]);

        await using var context = await Fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = console });
        var page = await NewPageAsync(context);
        try
        {
            await SignInAtProviderAsync(page, provider, console, "carol");
            var cookie = Assert.Single(await context.CookiesAsync(), static c => c.Name == "conclave_session");
            Assert.True(cookie.HttpOnly);
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_oidc");
            var hint = Assert.Single(await context.CookiesAsync(), static c => c.Name == "conclave_oidc_logout");
            Assert.True(hint.HttpOnly);
            Assert.Equal("/api/v1/session", hint.Path);

            // Who am I: the user, the provider and her group.
            await page.GetByText("Signed in as").ClickAsync();
            await Expect(page.Locator("#whoami-user")).ToHaveTextAsync("carol");
            await Expect(page.Locator("#whoami-provider")).ToContainTextAsync("OpenID Connect (Test IdP)");
            await Expect(page.Locator("#whoami-roles")).ToHaveTextAsync("config-editors");
            await ScreenAsync(page, "console-whoami-oidc");

            // Sign-out ends the provider's session too: its own "sign out?" page, then back to the console's sign-in page.
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await page.WaitForURLAsync(u => u.StartsWith(provider.Issuer, StringComparison.Ordinal));
            Assert.Contains("id_token_hint=", page.Url, StringComparison.Ordinal);
            await page.GetByRole(AriaRole.Button, new() { Name = "Yes, sign me out" }).ClickAsync();
            await page.WaitForURLAsync(u => u.StartsWith(console, StringComparison.Ordinal));
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name is "conclave_session" or "conclave_oidc_logout");

            // Signing in again asks for the credentials at the provider again: its session has ended.
            await SignInAtProviderAsync(page, provider, console, "dave");
            await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync("dave");

            // A failed sign-in (here: the flow's cookie is gone) ends on the sign-in page with the reason.
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Yes, sign me out" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test IdP" })).ToBeVisibleAsync();
            await page.GotoAsync("/api/v1/session/oidc/callback?code=x&state=y");
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "not started in this browser" })).ToBeVisibleAsync();
            Assert.DoesNotContain("signin_error", page.Url, StringComparison.Ordinal);
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_session");
        }
        catch
        {
            await FailureScreenshotAsync(page, nameof(Sign_in_with_the_provider_see_who_am_I_and_sign_out));
            throw;
        }
    }

    [Fact]
    public async Task Without_an_end_session_endpoint_sign_out_is_the_consoles_only()
    {
        var (node, console, port) = await StartMemberAsync();
        await using var nodeScope = node;
        await using var provider = await OidcTestProvider.StartAsync([console.TrimEnd('/') + "/api/v1/session/oidc/callback"], Output, port: port, endSession: false);

        await using var context = await Fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = console });
        var page = await NewPageAsync(context);
        try
        {
            await SignInAtProviderAsync(page, provider, console, "carol");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            Assert.StartsWith(console, page.Url, StringComparison.Ordinal);
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_session");

            // The provider's session stays, so the next sign-in goes through without its login form.
            await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test IdP" }).ClickAsync();
            await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync("carol");
        }
        catch
        {
            await FailureScreenshotAsync(page, nameof(Without_an_end_session_endpoint_sign_out_is_the_consoles_only));
            throw;
        }
    }

    /// <summary>A member with auth enabled and OIDC configured for a provider yet to start on the returned port; the console's URL under <c>localhost</c>.</summary>
    private async Task<(TestNode Node, string Console, int Port)> StartMemberAsync()
    {
        var port = OidcTestProvider.ReservePort();
        var node = await TestNode.StartInProcessAsync(Output, o => o with
        {
            Auth = new AuthSettings { BcryptCost = 4 },
            Oidc = new OidcSettings
            {
                Issuer = OidcTestProvider.IssuerAt(port),
                ClientId = OidcTestProvider.ClientIdFor,
                ClientSecret = OidcTestProvider.SecretFor,
                ProviderName = "Test IdP",
            },
        });
        try
        {
            foreach (var step in new[] { "user add root:rootpw", "auth enable" })
            {
                (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
            }
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        return (node, node.HttpUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal), port);
    }

    private async Task<IPage> NewPageAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        page.PageError += (_, e) => Output.WriteLine($"[page error] {e}");
        page.Console += (_, m) => { if (m.Type is "error" or "warning") { Output.WriteLine($"[browser {m.Type}] {m.Text}"); } };
        return page;
    }

    /// <summary>From the console's sign-in page through the provider's own login form (which must be shown) back to the console, signed in.</summary>
    private static async Task SignInAtProviderAsync(IPage page, OidcTestProvider provider, string console, string user)
    {
        await page.GotoAsync("/#/apps");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test IdP" }).ClickAsync();

        // The provider's own login form (oidc-provider's development interactions).
        await page.WaitForURLAsync(u => u.StartsWith(provider.Issuer, StringComparison.Ordinal));
        await page.Locator("input[name=login]").FillAsync(user);
        await page.Locator("input[name=password]").FillAsync("any password");
        await page.Locator("button[type=submit]").ClickAsync();

        // Back in the console, signed in.
        await page.WaitForURLAsync(u => u.StartsWith(console, StringComparison.Ordinal));
        await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync(user);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Applications" })).ToBeVisibleAsync();
    }

    private async Task FailureScreenshotAsync(IPage page, string test)
    {
        var path = Path.Combine(OutputDirectory("screenshots"), test + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Output.WriteLine($"screenshot of the failure: {path}");
    }
}

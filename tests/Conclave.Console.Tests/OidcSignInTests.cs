using Conclave.Server.Security.Auth;
using Conclave.Server.Security.Auth.Oidc;

namespace Conclave.Console.Tests;

/// <summary>
/// OpenID Connect sign-in in the console (issue 21 items 2 and 6), with real Chromium and a real provider (the npm
/// <c>oidc-provider</c>, a process of its own): the sign-in page offers "Sign in with Test IdP"; carol logs in at the
/// provider's own form and lands back in the console signed in; the who-am-I menu shows her, the provider and her group;
/// she signs out. The console is opened as <c>localhost</c> and the provider is <c>127.0.0.1</c>, so the way back is a
/// cross-site redirect, as with a real provider (the flow cookie is SameSite=Lax for that reason).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class OidcSignInTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public async Task Sign_in_with_the_provider_see_who_am_I_and_sign_out()
    {
        var port = OidcTestProvider.ReservePort();
        await using var node = await TestNode.StartInProcessAsync(Output, o => o with
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
        foreach (var step in new[] { "user add root:rootpw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        var console = node.HttpUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        await using var provider = await OidcTestProvider.StartAsync([console.TrimEnd('/') + "/api/v1/session/oidc/callback"], Output, port: port);

        await using var context = await Fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = console });
        var page = await context.NewPageAsync();
        page.PageError += (_, e) => Output.WriteLine($"[page error] {e}");
        page.Console += (_, m) => { if (m.Type is "error" or "warning") { Output.WriteLine($"[browser {m.Type}] {m.Text}"); } };
        try
        {
            await page.GotoAsync("/#/apps");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test IdP" }).ClickAsync();

            // The provider's own login form (oidc-provider's development interactions).
            await page.WaitForURLAsync(u => u.StartsWith(provider.Issuer, StringComparison.Ordinal));
            await page.Locator("input[name=login]").FillAsync("carol");
            await page.Locator("input[name=password]").FillAsync("any password");
            await page.Locator("button[type=submit]").ClickAsync();

            // Back in the console, signed in as carol.
            await page.WaitForURLAsync(u => u.StartsWith(console, StringComparison.Ordinal));
            await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync("carol");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Applications" })).ToBeVisibleAsync();
            var cookie = Assert.Single(await context.CookiesAsync(), static c => c.Name == "conclave_session");
            Assert.True(cookie.HttpOnly);
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_oidc");

            // Who am I: the user, the provider and her group.
            await page.GetByText("Signed in as").ClickAsync();
            await Expect(page.Locator("#whoami-user")).ToHaveTextAsync("carol");
            await Expect(page.Locator("#whoami-provider")).ToContainTextAsync("OpenID Connect (Test IdP)");
            await Expect(page.Locator("#whoami-roles")).ToHaveTextAsync("config-editors");
            await ScreenAsync(page, "console-whoami-oidc");

            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Test IdP" })).ToBeVisibleAsync();
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_session");

            // A failed sign-in (here: the flow's cookie is gone) ends on the sign-in page with the reason.
            await page.GotoAsync("/api/v1/session/oidc/callback?code=x&state=y");
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "not started in this browser" })).ToBeVisibleAsync();
            Assert.DoesNotContain("signin_error", page.Url, StringComparison.Ordinal);
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_session");
        }
        catch
        {
            var path = Path.Combine(OutputDirectory("screenshots"), nameof(Sign_in_with_the_provider_see_who_am_I_and_sign_out) + ".png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
            Output.WriteLine($"screenshot of the failure: {path}");
            throw;
        }
    }
}

namespace Conclave.Console.Tests;

/// <summary>
/// The console's sign-in while auth is enabled (issue 20 item 3): a member of its own with users from the real etcdctl;
/// real Chromium signs in through the login page, sees who is signed in, and signs out. The session cookie is HttpOnly
/// and SameSite=Strict; nothing under /api/v1 answers without it.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class SignInTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public async Task Sign_in_see_who_is_signed_in_and_sign_out()
    {
        await using var node = await TestNode.StartInProcessAsync(Output, o => o with { Auth = new Conclave.Server.Security.Auth.AuthSettings { BcryptCost = 4 } });
        foreach (var step in new[] { "user add root:rootpw", "user add alice:alicepw", "auth enable" })
        {
            (await Etcdctl.RunAsync(node.Endpoint, step.Split(' '))).EnsureSuccess();
        }

        await using var context = await Fixture.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = node.HttpUrl });
        var page = await context.NewPageAsync();
        page.PageError += (_, e) => Output.WriteLine($"[page error] {e}");
        try
        {
            await page.GotoAsync("/");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            await page.GetByLabel("User").FillAsync("alice");
            await page.GetByLabel("Password").FillAsync("wrong");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "wrong user name or password" })).ToBeVisibleAsync();

            await page.GetByLabel("Password").FillAsync("alicepw");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await Expect(page.Locator("#signed-in-user")).ToHaveTextAsync("alice");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Applications" })).ToBeVisibleAsync();

            var cookie = Assert.Single(await context.CookiesAsync(), static c => c.Name == "conclave_session");
            Assert.True(cookie.HttpOnly);
            Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
            Assert.DoesNotContain(await context.CookiesAsync(), static c => c.Name == "conclave_session");
            using var http = new HttpClient { BaseAddress = new Uri(node.HttpUrl) };
            Assert.Equal(401, (int)(await http.GetAsync("/api/v1/apps")).StatusCode);
        }
        catch
        {
            var path = Path.Combine(OutputDirectory("screenshots"), nameof(Sign_in_see_who_is_signed_in_and_sign_out) + ".png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
            Output.WriteLine($"screenshot of the failure: {path}");
            throw;
        }
    }
}

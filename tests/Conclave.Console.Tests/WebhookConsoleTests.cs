
namespace Conclave.Console.Tests;

/// <summary>
/// The app's Webhooks page (ADR 0016): create a webhook whose secret is shown once, see a publish and a ping arrive at a
/// real receiver and in the delivery log, and the secret gone after a reload.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class WebhookConsoleTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public Task Create_a_webhook_see_its_secret_once_and_its_deliveries() => InBrowserAsync(async page =>
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var url = receiver.Url;

        var app = NewName("hooks");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");

        await page.GotoAsync($"/#/apps/{app}?view=webhooks");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Webhooks", Exact = true })).ToBeVisibleAsync();
        await page.GetByLabel("URL", new() { Exact = true }).FillAsync(url);
        await page.Locator("form[aria-label=\"New webhook\"] select[name=env]").SelectOptionAsync("PRO");
        await page.GetByLabel("Events (comma-separated)").FillAsync("release.publish");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create webhook" }).ClickAsync();

        var secretBox = page.GetByTestId("webhook-secret");
        await Expect(secretBox).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^whsec_"));
        var secret = await secretBox.TextContentAsync() ?? "";
        var hooks = page.GetByRole(AriaRole.Table, new() { Name = "Webhooks" });
        await Expect(hooks).ToContainTextAsync("..." + secret[^4..]);
        await Expect(hooks).ToContainTextAsync("PRO / *");

        await http.SetItemAsync(ns, "port", "8080");
        await http.PublishAsync(ns, "first");
        var log = page.GetByRole(AriaRole.Table, new() { Name = "Deliveries" });
        await Expect(log.GetByRole(AriaRole.Row).Filter(new() { HasText = "release.publish" })).ToContainTextAsync("delivered");

        await page.GetByRole(AriaRole.Button, new() { Name = "Ping", Exact = false }).First.ClickAsync();
        await Expect(log.GetByRole(AriaRole.Row).Filter(new() { HasText = "ping" })).ToContainTextAsync("delivered");
        Assert.Contains("release.publish", receiver.Requests.Select(r => r.EventType));
        Assert.Contains("ping", receiver.Requests.Select(r => r.EventType));
        await ScreenAsync(page, "webhooks");

        // Shown once: after a reload only the last characters remain.
        await page.ReloadAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Webhooks" })).ToContainTextAsync("..." + secret[^4..]);
        await Expect(page.GetByTestId("webhook-secret")).ToHaveCountAsync(0);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
    });
}

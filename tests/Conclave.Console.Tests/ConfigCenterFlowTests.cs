using System.Text.RegularExpressions;

namespace Conclave.Console.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class ConfigCenterFlowTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public Task Create_edit_publish_and_watch_instances_converge_live() => InBrowserAsync(async page =>
    {
        var app = NewName("shop");
        await page.GotoAsync("/");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Applications" })).ToBeVisibleAsync();

        await page.GetByLabel("App id").FillAsync(app);
        await page.GetByLabel("Owner").FillAsync("team-shop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create app" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = app })).ToBeVisibleAsync();

        await page.GetByLabel("Environment name").FillAsync("PRO");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add environment" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Namespaces in PRO" })).ToBeVisibleAsync();

        await page.GetByLabel("Namespace name").FillAsync("application");
        await page.GetByLabel("Format").SelectOptionAsync("properties");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create namespace" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Items (working copy)" })).ToBeVisibleAsync();

        foreach (var (key, value) in new[] { ("port", "8080"), ("host", "shop.example") })
        {
            await page.GetByLabel("Key", new() { Exact = true }).FillAsync(key);
            await page.GetByLabel("Value", new() { Exact = true }).FillAsync(value);
            await page.GetByRole(AriaRole.Button, new() { Name = "Save item" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Items" })).ToContainTextAsync(value);
        }

        await ScreenAsync(page, "namespace-editor");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Expect(dialog.GetByRole(AriaRole.Table, new() { Name = "Changes to publish" })).ToContainTextAsync("shop.example");
        await dialog.GetByLabel("Release title").FillAsync("first release");
        await ScreenAsync(page, "publish-diff");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");

        // The environment overview: latest release, no unpublished changes.
        await page.GetByRole(AriaRole.Link, new() { Name = $"{app} (PRO)" }).ClickAsync();
        var overview = page.GetByRole(AriaRole.Table, new() { Name = "Namespaces in PRO" });
        await Expect(overview).ToContainTextAsync("r1 “first release”");
        await Expect(overview).ToContainTextAsync("published");
        await Expect(overview).Not.ToContainTextAsync("unpublished changes");

        // Delivery: simulated instances report through the real API; the page follows over SSE, no reload.
        await page.GetByRole(AriaRole.Link, new() { Name = "application", Exact = true }).ClickAsync();
        await Tab(page, "Delivery").ClickAsync();
        var convergence = page.GetByTestId("convergence");
        await Expect(convergence).ToHaveTextAsync("0 of 0 on r1, 0 rejected");
        await Expect(page.GetByTestId("live-state")).ToHaveTextAsync("live");

        using var http = Fixture.Http();
        var nsPath = $"/api/v1/apps/{app}/envs/PRO/namespaces/application";
        for (var i = 0; i < 5; i++)
        {
            await http.ReportAsync(nsPath, $"pod-{i}", 1, applied: true);
        }

        await Expect(convergence).ToHaveTextAsync("5 of 5 on r1, 0 rejected");
        await http.ReportAsync(nsPath, "pod-5", 1, applied: false, reason: "port 8080 already in use");
        await Expect(convergence).ToHaveTextAsync("5 of 6 on r1, 1 rejected");
        var instances = page.GetByRole(AriaRole.Table, new() { Name = "Instances" });
        await Expect(instances.GetByRole(AriaRole.Row).Filter(new() { HasText = "pod-5" })).ToContainTextAsync("port 8080 already in use");
        await Expect(page.GetByRole(AriaRole.Progressbar)).ToHaveAttributeAsync("aria-valuenow", "5");
        await ScreenAsync(page, "delivery");
    });

    [Fact]
    public Task Document_editor_shows_validation_errors_inline_with_line_and_column() => InBrowserAsync(async page =>
    {
        var app = NewName("docs");
        using var http = Fixture.Http();
        await http.NamespaceAsync(app, "DEV", "settings", "json");
        await page.GotoAsync($"/#/apps/{app}/DEV/settings");
        var editor = page.GetByLabel("Document (json)");
        await Expect(editor).ToBeVisibleAsync();

        await editor.FillAsync("{\n  \"pool\": 10,\n  \"timeout\": }\n");
        var status = page.Locator("#doc-status");
        await Expect(status).ToContainTextAsync(new Regex(@"Line 3, column \d+: json: line 3"));
        await Expect(editor).ToHaveAttributeAsync("aria-invalid", "true");
        await ScreenAsync(page, "validation-error");

        // Publishing the broken draft is refused with the server's readable reason.
        await page.GetByRole(AriaRole.Button, new() { Name = "Save draft" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the working copy (not published yet)");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync("(line 3, column");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();

        await editor.FillAsync("{\n  \"pool\": 10,\n  \"timeout\": 30\n}\n");
        await Expect(status).ToContainTextAsync("Valid json");
        await Expect(editor).ToHaveAttributeAsync("aria-invalid", "false");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        await Expect(dialog.Locator("pre.doc-diff")).ToContainTextAsync("+   \"timeout\": 30");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");
        var latest = await http.SendAsync(HttpMethod.Get, $"/api/v1/apps/{app}/envs/DEV/namespaces/settings/releases/latest");
        Assert.Contains("\"timeout\": 30", latest.GetProperty("content").GetString(), StringComparison.Ordinal);
    });
}

using System.Text;

namespace Conclave.Console.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class OperatorScreenTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    [Fact]
    public Task Browse_keys_see_a_keys_history_and_watch_a_prefix_live() => InBrowserAsync(async page =>
    {
        var prefix = NewName("svc") + "/";
        using var http = Fixture.Http();
        foreach (var v in new[] { "v1", "v2", "v3" })
        {
            await http.SendAsync(HttpMethod.Post, "/v3/kv/put", new { key = B64(prefix + "feature"), value = B64(v) });
        }

        await http.SendAsync(HttpMethod.Post, "/v3/kv/deleterange", new { key = B64(prefix + "feature") });
        await http.SendAsync(HttpMethod.Post, "/v3/kv/put", new { key = B64(prefix + "feature"), value = B64("v4") });
        await http.SendAsync(HttpMethod.Post, "/v3/kv/put", new { key = B64(prefix + "other"), value = B64("x") });

        await page.GotoAsync("/#/keys");
        await page.GetByLabel("Prefix").FillAsync(prefix);
        await page.GetByRole(AriaRole.Button, new() { Name = "Browse" }).ClickAsync();
        var keys = page.GetByRole(AriaRole.Table, new() { Name = "Keys" });
        await Expect(keys.GetByRole(AriaRole.Row)).ToHaveCountAsync(3);
        await keys.GetByRole(AriaRole.Link, new() { Name = prefix + "feature" }).ClickAsync();

        var history = page.GetByRole(AriaRole.Table, new() { Name = $"History of {prefix}feature" });
        var rows = history.GetByRole(AriaRole.Row);
        await Expect(rows).ToHaveCountAsync(6);
        await Expect(rows.Nth(1)).ToContainTextAsync("put1v4");
        await Expect(rows.Nth(2)).ToContainTextAsync("deletedeleted");
        await Expect(rows.Nth(3)).ToContainTextAsync("put3v3");
        await Expect(rows.Nth(5)).ToContainTextAsync("put1v1");

        await page.GetByRole(AriaRole.Button, new() { Name = "Watch prefix live" }).ClickAsync();
        await Expect(page.GetByTestId("watch-state")).ToHaveTextAsync("live");
        await http.SendAsync(HttpMethod.Post, "/v3/kv/put", new { key = B64(prefix + "feature"), value = B64("v5") });
        await http.SendAsync(HttpMethod.Post, "/v3/kv/deleterange", new { key = B64(prefix + "other") });
        var events = page.GetByRole(AriaRole.List, new() { Name = "Watch events" }).GetByRole(AriaRole.Listitem);
        await Expect(events).ToHaveCountAsync(2);
        await Expect(events.Nth(0)).ToContainTextAsync($"delete {prefix}other");
        await Expect(events.Nth(1)).ToContainTextAsync($"put {prefix}feature = v5");
        await ScreenAsync(page, "keys");
    });

    [Fact]
    public Task Cluster_and_audit_screens_and_readable_errors() => InBrowserAsync(async page =>
    {
        var app = NewName("audited");
        using (var http = Fixture.Http("erin"))
        {
            var ns = await http.NamespaceAsync(app, "DEV", "application", "properties");
            await http.SetItemAsync(ns, "k", "v");
            await http.PublishAsync(ns, "r1");
        }

        await page.GotoAsync("/#/cluster");
        var status = page.GetByRole(AriaRole.Group, new() { Name = "Cluster status" }).Or(page.Locator("dl.stats"));
        await Expect(status).ToContainTextAsync("healthy");
        await Expect(status).ToContainTextAsync("Leadertest-node");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Members" })).ToContainTextAsync("leader");
        // The center's instance records are leased: report one, and its lease is listed.
        using (var http = Fixture.Http())
        {
            await http.ReportAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/application", "pod-1", 1, applied: true);
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Leases" })).ToContainTextAsync($"instances/{app}/DEV/application/pod-1");
        await ScreenAsync(page, "cluster");

        await page.GotoAsync($"/#/audit?app={app}");
        var audit = page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" });
        await Expect(audit.GetByRole(AriaRole.Row)).ToHaveCountAsync(6);
        await Expect(audit.GetByRole(AriaRole.Row).Nth(1)).ToContainTextAsync("erinrelease.publish");
        await page.GetByLabel("Action").SelectOptionAsync("item.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(audit.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(audit).ToContainTextAsync("item.set");
        // A time window: nothing before 2001, everything since.
        await page.GetByLabel("Until (local time)").FillAsync("2001-01-01T00:00");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(audit.GetByRole(AriaRole.Row)).ToHaveCountAsync(1);
        await page.GetByLabel("Until (local time)").FillAsync("");
        await page.GetByLabel("From (local time)").FillAsync("2001-01-01T00:00");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(audit.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(page.GetByLabel("From (local time)")).ToHaveValueAsync("2001-01-01T00:00");
        await ScreenAsync(page, "audit");

        // API refusals appear as the problem's detail, never as a blank page.
        await page.GotoAsync("/#/apps/no-such-app");
        await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "does not exist" })).ToHaveTextAsync("app 'no-such-app' does not exist");
        await page.GotoAsync("/#/apps");
        await page.GetByLabel("App id").FillAsync(app);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create app" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Form, new() { Name = "New app" }).GetByRole(AriaRole.Alert)).ToHaveTextAsync($"app '{app}' already exists");
        await page.GetByLabel("Search apps").FillAsync(app);
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Applications" }).GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await ScreenAsync(page, "apps");
    });
}

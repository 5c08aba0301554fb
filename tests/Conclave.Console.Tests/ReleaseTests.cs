namespace Conclave.Console.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class ReleaseTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public Task Diff_two_releases_then_roll_back_after_seeing_the_diff() => InBrowserAsync(async page =>
    {
        var app = NewName("billing");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        foreach (var (port, timeout) in new[] { ("8080", "5s"), ("8081", "5s"), ("9090", "30s") })
        {
            await http.SetItemAsync(ns, "port", port);
            await http.SetItemAsync(ns, "timeout", timeout);
            await http.PublishAsync(ns, $"port {port}");
        }

        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=releases");
        var releases = page.GetByRole(AriaRole.Table, new() { Name = "Releases" });
        await Expect(releases.GetByRole(AriaRole.Row)).ToHaveCountAsync(4);
        await page.GetByLabel("Diff from r1").CheckAsync();
        await page.GetByLabel("Diff to r3").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Diff selected releases" }).ClickAsync();
        var diff = page.GetByRole(AriaRole.Table, new() { Name = "Differences from r1 to r3" });
        await Expect(diff.GetByRole(AriaRole.Row).Filter(new() { HasText = "port" })).ToContainTextAsync("Changed80809090");
        await Expect(diff.GetByRole(AriaRole.Row).Filter(new() { HasText = "timeout" })).ToContainTextAsync("Changed5s30s");
        await ScreenAsync(page, "releases-diff");

        await page.GetByRole(AriaRole.Button, new() { Name = "Roll back to r1" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Roll back to r1?" });
        var confirmDiff = dialog.GetByRole(AriaRole.Table, new() { Name = "Changes the rollback makes" });
        await Expect(confirmDiff.GetByRole(AriaRole.Row).Filter(new() { HasText = "port" })).ToContainTextAsync("Changed90908080");
        await dialog.GetByLabel("Comment").FillAsync("9090 is firewalled");
        await ScreenAsync(page, "rollback-confirm");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Confirm rollback" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Rolled back: r4 restores r1");
        await Expect(releases.GetByRole(AriaRole.Row).Filter(new() { HasText = "r4" })).ToContainTextAsync("rollback");

        var latest = await http.SendAsync(HttpMethod.Get, $"{ns}/releases/latest");
        Assert.Equal(4, latest.GetProperty("id").GetInt64());
        Assert.Equal(1, latest.GetProperty("rollbackOf").GetInt64());
        Assert.Equal("8080", latest.GetProperty("configurations").GetProperty("port").GetString());
        var history = page.GetByRole(AriaRole.Table, new() { Name = "History" });
        await Expect(history.GetByRole(AriaRole.Row).Nth(1)).ToContainTextAsync("9090 is firewalled");

        // The rollback reset the working copy too: nothing unpublished, so the next publish does not ship 9090 again.
        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await Expect(page.GetByTestId("pending")).ToHaveTextAsync("No unpublished changes: the working copy is the main release r4.");
        Assert.Equal("8080", (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("items").EnumerateArray().Single(i => i.GetProperty("key").GetString() == "port").GetProperty("value").GetString());
    });

    [Fact]
    public Task Unpublished_changes_are_marked_and_discarded_or_kept_through_a_rollback() => InBrowserAsync(async page =>
    {
        var app = NewName("orders");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SetItemAsync(ns, "port", "8080");
        await http.PublishAsync(ns, "r1");
        await http.SetItemAsync(ns, "port", "9090");
        await http.PublishAsync(ns, "r2");
        await http.SetItemAsync(ns, "port", "7070");
        await http.SetItemAsync(ns, "extra", "x");

        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await Expect(page.GetByTestId("pending")).ToContainTextAsync("2 unpublished changes since the main release r2");
        await Expect(page.GetByTestId("changed-port")).ToHaveTextAsync("changed");
        await Expect(page.GetByTestId("changed-extra")).ToHaveTextAsync("new");
        await ScreenAsync(page, "unpublished-changes");
        await page.GetByRole(AriaRole.Button, new() { Name = "Discard unpublished changes" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Discard unpublished changes?" });
        await Expect(dialog.GetByRole(AriaRole.Table, new() { Name = "Changes to discard" }).GetByRole(AriaRole.Row)).ToHaveCountAsync(3);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Discard" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Discarded: the working copy is r2 again");
        await Expect(page.GetByTestId("pending")).ToHaveTextAsync("No unpublished changes: the working copy is the main release r2.");

        // A rollback with an unpublished edit asks what to do with it; keeping it leaves it for the next publish.
        await http.SetItemAsync(ns, "extra", "y");
        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=releases");
        await page.GetByRole(AriaRole.Button, new() { Name = "Roll back to r1" }).ClickAsync();
        var rollback = page.GetByRole(AriaRole.Dialog, new() { Name = "Roll back to r1?" });
        await Expect(rollback.GetByRole(AriaRole.Group, new() { Name = "Unpublished changes" })).ToContainTextAsync("(extra)");
        await rollback.GetByLabel("Keep them for the next publish").CheckAsync();
        await rollback.GetByRole(AriaRole.Button, new() { Name = "Confirm rollback" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Rolled back: r3 restores r1");
        var items = (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("key").GetString()!, i => i.GetProperty("value").GetString());
        Assert.Equal("y", items["extra"]);
    });

    [Fact]
    public Task Gray_release_to_half_the_instances_then_promote() => InBrowserAsync(async page =>
    {
        var app = NewName("search");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SetItemAsync(ns, "ranker", "bm25");
        await http.PublishAsync(ns, "baseline");
        await http.SetItemAsync(ns, "ranker", "neural");

        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=gray");
        await page.GetByLabel("Percentage of instances").FillAsync("50");
        await page.GetByLabel("Release title").FillAsync("neural ranker");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start gray release" }).ClickAsync();
        var start = page.GetByRole(AriaRole.Dialog, new() { Name = "Start a gray release to 50% of instances?" });
        await Expect(start.GetByRole(AriaRole.Table, new() { Name = "Changes shipped" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "ranker" })).ToContainTextAsync("Changedbm25neural");
        await start.GetByRole(AriaRole.Button, new() { Name = "Start gray release" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Gray release r2 started");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Gray release r2" })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("live-state")).ToHaveTextAsync("live");

        // Twenty instances ask the real API what they should run and report it, as the client SDK does.
        var gray = 0;
        for (var i = 0; i < 20; i++)
        {
            var effective = await http.SendAsync(HttpMethod.Get, $"{ns}/effective?instanceId=pod-{i}");
            var release = effective.GetProperty("release").GetProperty("id").GetInt64();
            gray += effective.GetProperty("isGray").GetBoolean() ? 1 : 0;
            await http.ReportAsync(ns, $"pod-{i}", release, applied: true);
        }

        Assert.InRange(gray, 1, 19);
        await Expect(page.GetByTestId("cohort")).ToHaveTextAsync($"{gray} of 20 reporting instances in the cohort, {gray} on r2");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Gray cohort" }).GetByRole(AriaRole.Row)).ToHaveCountAsync(gray + 1);
        await Expect(page.GetByTestId("convergence")).ToHaveTextAsync($"{20 - gray} of 20 on r1, 0 rejected");
        await ScreenAsync(page, "gray-release");

        await page.GetByRole(AriaRole.Button, new() { Name = "Promote r2 to main" }).ClickAsync();
        var confirm = page.GetByRole(AriaRole.Dialog, new() { Name = "Promote r2 to main?" });
        await Expect(confirm.GetByRole(AriaRole.Table, new() { Name = "Changes shipped" })).ToContainTextAsync("neural");
        await confirm.GetByRole(AriaRole.Button, new() { Name = "Promote" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Promoted r2: it is the main release now");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start gray release" })).ToBeVisibleAsync();
        var n = await http.SendAsync(HttpMethod.Get, ns);
        Assert.Equal(2, n.GetProperty("headReleaseId").GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, n.GetProperty("gray").ValueKind);
        var effectiveAfter = await http.SendAsync(HttpMethod.Get, $"{ns}/effective?instanceId=pod-0");
        Assert.Equal("neural", effectiveAfter.GetProperty("release").GetProperty("configurations").GetProperty("ranker").GetString());
    });

    [Fact]
    public Task A_rollout_plan_is_a_live_timeline_with_pause_resume_and_abort() => InBrowserAsync(async page =>
    {
        var app = NewName("plan");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SetItemAsync(ns, "ranker", "bm25");
        await http.PublishAsync(ns, "baseline");
        await http.SetItemAsync(ns, "ranker", "neural");

        await page.GotoAsync($"/#/apps/{app}/PRO/application?tab=gray");
        await page.GetByLabel("Plan steps or strategy").FillAsync("10%@2s,50%@600s,100%@600s");
        await page.GetByLabel("Halt past rejected (%)").FillAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start gray release" }).ClickAsync();
        var start = page.GetByRole(AriaRole.Dialog, new() { Name = "Start a rollout by plan 10%@2s,50%@600s,100%@600s?" });
        await start.GetByRole(AriaRole.Button, new() { Name = "Start gray release" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Gray release r2 rolling out by plan");

        // The timeline moves by itself: step 1 bakes 2 s, then step 2 is current (the page polls the namespace).
        var steps = page.GetByRole(AriaRole.List, new() { Name = "Rollout steps" });
        await Expect(steps.GetByRole(AriaRole.Listitem)).ToHaveCountAsync(3);
        await Expect(page.GetByTestId("plan-step-1")).ToContainTextAsync("done", new() { Timeout = 20_000 });
        await Expect(page.GetByTestId("plan-step-2")).ToContainTextAsync("running");
        await Expect(page.GetByTestId("bake")).ToContainTextAsync("s of bake left");
        await Expect(page.GetByTestId("goes-to")).ToContainTextAsync("50% of instances");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Change rule" })).ToHaveCountAsync(0);
        await Expect(page.GetByText("halts and rolls back past 2% rejected")).ToBeVisibleAsync();
        await ScreenAsync(page, "rollout-plan");

        await page.GetByRole(AriaRole.Button, new() { Name = "Pause plan" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Rollout paused");
        await Expect(page.GetByTestId("plan-step-2")).ToContainTextAsync("paused");
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume plan" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Rollout resumed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Abort plan" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog, new() { Name = "Abort the rollout?" }).GetByRole(AriaRole.Button, new() { Name = "Abort and roll back" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Rollout aborted: every instance is back on the main release");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Last rollout (r2): aborted" })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("plan-outcome")).ToContainTextAsync("aborted in the console");
        var n = await http.SendAsync(HttpMethod.Get, ns);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, n.GetProperty("gray").ValueKind);
        Assert.Equal("Aborted", n.GetProperty("rollout").GetProperty("status").GetString());
    });
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Conclave.Console.Tests;

/// <summary>
/// Evaluation insight in the flag editor (docs/console.md, "Feature flags"): a fleet of three simulated instances
/// reports evaluation counts through the real API and the flag list shows what it serves per flag, "not evaluated
/// yet" and "not in the main release", refreshed on demand; reported variant names and descriptions with markup stay
/// text. The stale badge, its tooltip and the stale-first order are checked on a usage answer served by
/// <c>page.route</c> (a real member cannot be made to age a flag), with the browser's clock fixed.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class FlagUsageConsoleTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    private const string A = "Checkout.A", B = "Search.B", C = "Promo.C", D = "Later.D";

    private const string Document = """
        {"flags": {
          "Checkout.A": {"type": "boolean", "description": "<img src=x onerror=\"window.pwned=1\">", "defaultVariant": "off"},
          "Search.B": {"type": "boolean", "defaultVariant": "off"},
          "Promo.C": {"type": "string", "variants": {"plain": "", "banner": "spring"}, "defaultVariant": "plain"}}}
        """;

    // "last evaluated on" names the UTC day the member recorded: today, whatever day the test runs on.
    private static Regex Served(string text) => new($"^{Regex.Escape(text)}last evaluated on \\d{{4}}-\\d{{2}}-\\d{{2}}$");

    [Fact]
    public Task The_flag_list_shows_what_the_fleet_serves_and_refreshes_it() => InBrowserAsync(async page =>
    {
        var app = NewName("usage");
        using var http = Fixture.Http();
        var ns = await PublishedFlagsAsync(http, app);
        await ReportAsync(http, ns, "pod-1", 1, (A, "on", 10), (A, "off", 5), (B, "off", 5));
        await ReportAsync(http, ns, "pod-2", 1, (A, "on", 12), (A, "off", 3));
        await ReportAsync(http, ns, "pod-3", 1, (A, "on", 8), (A, "off", 2));

        // A fourth flag in the working copy only: the fleet cannot have evaluated it.
        var revision = (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("revision").GetInt64();
        var next = JsonNode.Parse(Document)!;
        next["flags"]![D] = new JsonObject { ["type"] = "boolean", ["defaultVariant"] = "off" };
        await http.SendAsync(HttpMethod.Put, $"{ns}/content", new { content = next.ToJsonString(), expectedRevision = revision });

        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        var flags = page.GetByRole(AriaRole.Table, new() { Name = "Flags" });
        await Expect(flags.GetByRole(AriaRole.Columnheader, new() { Name = "Served (live instances)" })).ToBeVisibleAsync();
        await Expect(ServedCell(flags, A)).ToHaveTextAsync(Served("on 75% · off 25% of 40 evaluations, 3 instances"));
        await Expect(ServedCell(flags, B)).ToHaveTextAsync(Served("off 100% of 5 evaluations, 1 instance"));
        await Expect(ServedCell(flags, C)).ToHaveTextAsync("not evaluated yet");
        await Expect(ServedCell(flags, D)).ToHaveTextAsync("not in the main release");
        await Expect(page.GetByTestId("usage-status")).ToHaveTextAsync(
            new Regex("^Served: evaluations of r1 reported by the live instances · 0 of 3 flags stale \\(not evaluated for 7 days\\) · as of "));
        // C was never evaluated, but r1 was published just now: not stale.
        await Expect(Row(flags, C).GetByText("stale", new() { Exact = true })).ToHaveCountAsync(0);
        await Expect(flags.Locator(".badge.stale")).ToHaveCountAsync(0);

        // The description with markup is text.
        await Expect(Row(flags, A)).ToContainTextAsync("<img src=x onerror=\"window.pwned=1\">");
        await Expect(flags.Locator("img")).ToHaveCountAsync(0);

        // Nothing is stale here: the stale-only filter says so.
        await page.GetByLabel("Show").SelectOptionAsync("stale-only");
        await Expect(page.GetByTestId("flags-empty")).ToHaveTextAsync("No stale flags among the 4 flags.");
        await page.GetByLabel("Show").SelectOptionAsync("document");

        // pod-3 reports again (its totals replace its previous ones), now with B served as a variant whose name is markup;
        // the page shows it after Refresh usage.
        await ReportAsync(http, ns, "pod-3", 1, (A, "on", 8), (A, "off", 2), (B, "<b>x</b>", 5));
        await Expect(ServedCell(flags, B)).ToHaveTextAsync(Served("off 100% of 5 evaluations, 1 instance"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh usage" }).ClickAsync();
        await Expect(ServedCell(flags, B)).ToHaveTextAsync(Served("<b>x</b> 50% · off 50% of 10 evaluations, 2 instances"));
        await Expect(ServedCell(flags, A)).ToHaveTextAsync(Served("on 75% · off 25% of 40 evaluations, 3 instances"));
        await Expect(flags.Locator("b")).ToHaveCountAsync(0);
        Assert.Null(await page.EvaluateAsync<int?>("() => window.pwned ?? null"));
    });

    [Fact]
    public Task A_stale_flag_is_badged_with_why_and_can_be_listed_first() => InBrowserAsync(async page =>
    {
        var app = NewName("stale");
        using var http = Fixture.Http();
        var ns = await PublishedFlagsAsync(http, app);

        // The member's answer, replaced: A served today, C last evaluated ten days ago, B never (and r1 "old").
        await page.Clock.SetFixedTimeAsync("2030-03-15T12:00:00Z");
        var requests = 0;
        await page.RouteAsync(new Regex("/flags/usage\\?staleDays=7$"), async route =>
        {
            Interlocked.Increment(ref requests);
            var body = JsonSerializer.Serialize(new
            {
                releaseId = 1,
                staleDays = 7,
                flags = new object[]
                {
                    new { flag = A, variants = new Dictionary<string, long> { ["on"] = 3, ["off"] = 1 }, instances = 2, lastEvaluated = "2030-03-15T00:00:00+00:00", stale = false },
                    new { flag = C, variants = new Dictionary<string, long>(), instances = 0, lastEvaluated = "2030-03-05T00:00:00+00:00", stale = true },
                    new { flag = B, variants = new Dictionary<string, long>(), instances = 0, lastEvaluated = (string?)null, stale = true },
                },
            });
            await route.FulfillAsync(new() { Status = 200, ContentType = "application/json", Body = body });
        });

        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        var flags = page.GetByRole(AriaRole.Table, new() { Name = "Flags" });
        await Expect(ServedCell(flags, A)).ToHaveTextAsync("on 75% · off 25% of 4 evaluations, 2 instanceslast evaluated on 2030-03-15");
        await Expect(page.GetByTestId("usage-status")).ToContainTextAsync("2 of 3 flags stale (not evaluated for 7 days)");

        var staleC = Row(flags, C).GetByText("stale", new() { Exact = true });
        await Expect(staleC).ToBeVisibleAsync();
        await Expect(staleC).ToHaveAttributeAsync("title", "Not evaluated for 10 days: last evaluated on 2030-03-05 (stale after 7 days)");
        await Expect(ServedCell(flags, C)).ToHaveTextAsync("stale no evaluations by the live instances (last evaluated on 2030-03-05)");
        var staleB = Row(flags, B).GetByText("stale", new() { Exact = true });
        await Expect(staleB).ToHaveAttributeAsync("title", "Never evaluated, and the main release r1 is older than 7 days");
        await Expect(ServedCell(flags, B)).ToHaveTextAsync("stale not evaluated yet");
        await Expect(Row(flags, A).GetByText("stale", new() { Exact = true })).ToHaveCountAsync(0);

        // Document order, then stale first (in document order among themselves), then only the stale ones.
        await Expect(flags.Locator("tbody tr")).ToHaveCountAsync(3);
        Assert.Equal([A, B, C], await FlagOrderAsync(flags));
        await page.GetByLabel("Show").SelectOptionAsync("stale-first");
        await Expect(flags.Locator("tbody tr").First).ToHaveAttributeAsync("data-flag", B);
        Assert.Equal([B, C, A], await FlagOrderAsync(flags));
        await page.GetByLabel("Show").SelectOptionAsync("stale-only");
        await Expect(flags.Locator("tbody tr")).ToHaveCountAsync(2);
        Assert.Equal([B, C], await FlagOrderAsync(flags));

        // Refresh asks again; the order chosen stays.
        var before = Volatile.Read(ref requests);
        await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Refresh usage" }).ClickAsync(), new Regex("/flags/usage\\?staleDays=7$"));
        Assert.Equal(before + 1, Volatile.Read(ref requests));
        await Expect(flags.Locator("tbody tr")).ToHaveCountAsync(2);
        Assert.Equal([B, C], await FlagOrderAsync(flags));
    });

    private static ILocator Row(ILocator flags, string flag) => flags.Locator($"tbody tr[data-flag=\"{flag}\"]");

    // Flag, Type, State, Default variant, Rules, Published, Served (live instances), Actions
    private static ILocator ServedCell(ILocator flags, string flag) => Row(flags, flag).GetByRole(AriaRole.Cell).Nth(6);

    private static async Task<string[]> FlagOrderAsync(ILocator flags) =>
        (await flags.Locator("tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.flag)"));

    /// <summary>A flags namespace PRO/features of <paramref name="app"/> holding <see cref="Document"/>, published as r1.</summary>
    private static async Task<string> PublishedFlagsAsync(HttpClient http, string app)
    {
        var ns = await http.NamespaceAsync(app, "PRO", "features", "flags");
        var revision = (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("revision").GetInt64();
        await http.SendAsync(HttpMethod.Put, $"{ns}/content", new { content = Document, expectedRevision = revision });
        Assert.Equal(1L, await http.PublishAsync(ns, "three flags"));
        return ns;
    }

    /// <summary>What an instance sends after applying the release: its evaluation totals (all of them recent here).</summary>
    private static Task<JsonElement> ReportAsync(HttpClient http, string ns, string instanceId, long releaseId, params (string Flag, string Variant, long Total)[] counts) =>
        http.SendAsync(HttpMethod.Post, $"{ns}/reports", new
        {
            instanceId,
            releaseId,
            status = "Applied",
            flagEvaluations = counts.Select(c => new { flag = c.Flag, variant = c.Variant, total = c.Total, recent = c.Total }).ToArray(),
        });
}

using System.Globalization;
using System.Text.Json;

namespace Conclave.Console.Tests;

/// <summary>
/// The flag editor of a flags namespace (issue 25): a flag made in the form with a users rule and a 25% rollout, the
/// cohort preview checked against the shared bucket vectors (tests/flags/vectors.json), saved and published through
/// the usual flow, switched off from the list and published again with the per-flag diff; the member's validation
/// error shown for a document typed as raw JSON; the bucket function of the console against every vector.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class FlagConsoleTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    private const string Flag = "Checkout.NewFlow";

    [Fact]
    public Task Flag_bucket_in_the_browser_matches_every_bucket_vector() => InBrowserAsync(async page =>
    {
        var app = NewName("buckets");
        using var http = Fixture.Http();
        await http.NamespaceAsync(app, "PRO", "features", "flags");
        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Flags (working copy)" })).ToBeVisibleAsync();

        var vectors = BucketVectors().ToArray();
        Assert.NotEmpty(vectors);
        // The module the page itself loads (the asset URLs are versioned: take them from the page's own script).
        var buckets = await page.EvaluateAsync<int[]>(
            """
            async vectors => {
              const main = document.querySelector('script[type="module"]').src;
              const m = await import(new URL('flagBucket.js', main).href);
              return vectors.map(v => m.bucket(v.seed, v.key));
            }
            """,
            vectors.Select(v => new { seed = v.Seed, key = v.Key }).ToArray());
        Assert.Equal(vectors.Select(v => v.Bucket).ToArray(), buckets);
    });

    [Fact]
    public Task A_flag_made_in_the_form_is_previewed_saved_published_then_switched_off_and_diffed() => InBrowserAsync(async page =>
    {
        var app = NewName("flags");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "features", "flags");

        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        await Expect(page.GetByText("No flags yet.")).ToBeVisibleAsync();
        var newFlag = page.GetByRole(AriaRole.Form, new() { Name = "New flag" });
        await newFlag.GetByLabel("Flag name").FillAsync(Flag);
        await newFlag.GetByLabel("Type").SelectOptionAsync("boolean");
        await newFlag.GetByRole(AriaRole.Button, new() { Name = "Add flag" }).ClickAsync();

        var editor = page.GetByRole(AriaRole.Region, new() { Name = $"Flag {Flag}" });
        await Expect(editor).ToBeVisibleAsync();
        await editor.GetByLabel("Description").FillAsync("The one-page checkout");
        await Expect(editor.GetByLabel("Default variant")).ToHaveValueAsync("off");

        // Rule 1: the QA users get "on".
        await editor.GetByRole(AriaRole.Button, new() { Name = "Add rule" }).ClickAsync();
        var rule1 = editor.GetByRole(AriaRole.Group, new() { Name = "Rule 1", Exact = true });
        await rule1.GetByLabel("Users (rule 1)").FillAsync("qa-1, qa-2\nqa-3");
        await rule1.GetByLabel("Variant (rule 1)").SelectOptionAsync("on");

        // Rule 2: 25% of everyone else get "on".
        await editor.GetByRole(AriaRole.Button, new() { Name = "Add rule" }).ClickAsync();
        var rule2 = editor.GetByRole(AriaRole.Group, new() { Name = "Rule 2", Exact = true });
        await rule2.GetByLabel("Rollout by percentage").CheckAsync();
        await Expect(rule2.GetByLabel("Rollout variant (rule 2, entry 1)")).ToHaveValueAsync("on");
        await rule2.GetByLabel("Percentage (rule 2, entry 1)").FillAsync("25");
        await Expect(rule2.GetByLabel("Percentage slider (rule 2, entry 1)")).ToHaveValueAsync("25");
        await Expect(rule2.GetByTestId("rollout-total-2")).ToHaveTextAsync("Total 25.00% · 75.00% go on to the next rule");

        // The cohort preview: each key's bucket is the shared vectors' (seed = the flag's name), "on" below 2,500.
        var sample = BucketVectors().Where(v => v.Seed == Flag && v.Key is "alice" or "bob" or "erin" or "ivan" or "carol").ToArray();
        Assert.Equal(5, sample.Length);
        await rule2.GetByLabel("Sample targeting keys (rule 2)").FillAsync(string.Join("\n", sample.Select(v => v.Key)));
        var preview = rule2.GetByRole(AriaRole.Table, new() { Name = "Cohort preview (rule 2)" });
        await Expect(preview.GetByRole(AriaRole.Row)).ToHaveCountAsync(sample.Length + 1);
        foreach (var v in sample)
        {
            var gets = v.Bucket < 2_500 ? "on" : "no match: next rule";
            await Expect(preview.GetByRole(AriaRole.Row).Filter(new() { HasText = v.Key })).ToHaveTextAsync($"{v.Key}{v.Bucket}{gets}");
        }

        var inside = sample.Count(v => v.Bucket < 2_500);
        Assert.InRange(inside, 1, sample.Length - 1);
        var onShare = string.Create(CultureInfo.InvariantCulture, $"on: {inside} of 5 ({100.0 * inside / 5:0.0}%)");
        var restShare = string.Create(CultureInfo.InvariantCulture, $"no match (next rule): {5 - inside} of 5 ({100.0 * (5 - inside) / 5:0.0}%)");
        await Expect(rule2.GetByTestId("cohort-share-2")).ToContainTextAsync(onShare);
        await Expect(rule2.GetByTestId("cohort-share-2")).ToContainTextAsync(restShare);
        await Expect(page.GetByTestId("flags-validation")).ToHaveTextAsync("Valid flags document");
        await rule2.GetByRole(AriaRole.Group, new() { Name = "Outcome of rule 2" }).ScrollIntoViewIfNeededAsync();
        await ScreenAsync(page, "flag-editor");

        await page.GetByRole(AriaRole.Button, new() { Name = "Save flags" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the flags to the working copy (not published yet)");
        var flags = page.GetByRole(AriaRole.Table, new() { Name = "Flags" });
        var row = flags.GetByRole(AriaRole.Row).Filter(new() { HasText = Flag });
        await Expect(row).ToContainTextAsync("boolean");
        await Expect(row).ToContainTextAsync("never published");
        await Expect(row.GetByRole(AriaRole.Cell).Nth(4)).ToHaveTextAsync("2");

        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var publish = page.GetByRole(AriaRole.Dialog, new() { Name = $"Publish {app}/PRO/features" });
        await Expect(publish.GetByRole(AriaRole.Table, new() { Name = "Changes to publish" }).GetByRole(AriaRole.Row).Filter(new() { HasText = Flag })).ToContainTextAsync("Added");
        await publish.GetByLabel("Release title").FillAsync("checkout flag");
        await publish.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");
        await Expect(row.GetByRole(AriaRole.Cell).Nth(5)).ToHaveTextAsync("published");

        var flag = await LatestFlagAsync(http, ns, 1);
        Assert.Equal("boolean", flag.GetProperty("type").GetString());
        Assert.Equal("The one-page checkout", flag.GetProperty("description").GetString());
        Assert.True(flag.GetProperty("enabled").GetBoolean());
        Assert.Equal("off", flag.GetProperty("defaultVariant").GetString());
        Assert.True(flag.GetProperty("variants").GetProperty("on").GetBoolean());
        Assert.False(flag.GetProperty("variants").GetProperty("off").GetBoolean());
        var rules = flag.GetProperty("rules").EnumerateArray().ToArray();
        Assert.Equal(2, rules.Length);
        Assert.Equal(["qa-1", "qa-2", "qa-3"], rules[0].GetProperty("users").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal("on", rules[0].GetProperty("variant").GetString());
        Assert.False(rules[0].TryGetProperty("rollout", out _));
        var rollout = rules[1].GetProperty("rollout").EnumerateArray().Single();
        Assert.Equal("on", rollout.GetProperty("variant").GetString());
        Assert.Equal(25m, rollout.GetProperty("percentage").GetDecimal());
        Assert.False(rules[1].TryGetProperty("variant", out _));

        // The kill switch from the list: saved, published, and the diff names the flag.
        await flags.GetByLabel($"Enabled {Flag}").UncheckAsync();
        await Expect(row).ToContainTextAsync("unsaved");
        await Expect(row).ToContainTextAsync("disabled");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save flags" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the flags to the working copy (not published yet)");
        await Expect(row).ToContainTextAsync("changed, not published");
        await Expect(page.GetByTestId("pending")).ToContainTextAsync("1 unpublished change since the main release r1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var changed = publish.GetByRole(AriaRole.Table, new() { Name = "Changes to publish" }).GetByRole(AriaRole.Row).Filter(new() { HasText = Flag });
        await Expect(changed).ToContainTextAsync("Changed");
        await Expect(changed.GetByRole(AriaRole.Cell).Nth(3)).ToContainTextAsync("\"enabled\":false");
        await publish.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r2");
        Assert.False((await LatestFlagAsync(http, ns, 2)).GetProperty("enabled").GetBoolean());

        await Tab(page, "Releases").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Diff selected releases" }).ClickAsync();
        var diff = page.GetByRole(AriaRole.Table, new() { Name = "Differences from r1 to r2" });
        await Expect(diff.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(diff.GetByRole(AriaRole.Row).Filter(new() { HasText = Flag })).ToContainTextAsync("Changed");
    });

    [Fact]
    public Task A_rollout_over_100_percent_typed_as_raw_json_shows_the_members_error_and_is_not_published() => InBrowserAsync(async page =>
    {
        var app = NewName("badflags");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "features", "flags");

        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        await page.GetByRole(AriaRole.Button, new() { Name = "Raw JSON" }).ClickAsync();
        const string document = """
            {"flags": {"Big": {"type": "boolean", "description": "<img src=x onerror=\"window.pwned=1\">", "defaultVariant": "off",
              "rules": [{"rollout": [{"variant": "on", "percentage": 70}, {"variant": "off", "percentage": 50}]}]}}}
            """;
        await page.GetByLabel("Document (flags)").FillAsync(document);
        const string error = "flags: flags[\"Big\"].rules[0].rollout: the percentages add up to 120, over 100";
        await Expect(page.Locator("#doc-status").GetByRole(AriaRole.Alert)).ToHaveTextAsync(error);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save draft" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the working copy (not published yet)");

        // Back in the form: the flag is listed (its description as text, never as markup) and the member's error is
        // shown next to it; the rollout shows its total over 100.
        await page.GetByRole(AriaRole.Button, new() { Name = "Form", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("flags-validation")).ToHaveTextAsync(error);
        var row = page.GetByRole(AriaRole.Table, new() { Name = "Flags" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "Big" });
        await Expect(row).ToContainTextAsync("<img src=x onerror=\"window.pwned=1\">");
        await Expect(row.Locator("img")).ToHaveCountAsync(0);
        await row.GetByRole(AriaRole.Button, new() { Name = "Edit Big" }).ClickAsync();
        await Expect(page.GetByTestId("rollout-total-1")).ToContainTextAsync("Total 120.00% — over 100");
        Assert.Null(await page.EvaluateAsync<int?>("() => window.pwned ?? null"));

        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var publish = page.GetByRole(AriaRole.Dialog, new() { Name = $"Publish {app}/PRO/features" });
        await publish.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(publish.GetByRole(AriaRole.Alert)).ToContainTextAsync(error);
        Assert.Equal(0, (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("headReleaseId").GetInt64());

        // Fixed in the form: the second entry down to 30, saved and published.
        await publish.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await page.GetByLabel("Percentage (rule 1, entry 2)").FillAsync("30");
        await Expect(page.GetByTestId("flags-validation")).ToHaveTextAsync("Valid flags document");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        await publish.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");
        var rollout = (await LatestFlagAsync(http, ns, 1, "Big")).GetProperty("rules")[0].GetProperty("rollout");
        Assert.Equal(30m, rollout[1].GetProperty("percentage").GetDecimal());
    });

    [Fact]
    public Task A_document_the_form_cannot_show_opens_as_raw_json_and_rules_move_in_the_form() => InBrowserAsync(async page =>
    {
        var app = NewName("rawflags");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "features", "flags");
        var revision = (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("revision").GetInt64();
        await http.SendAsync(HttpMethod.Put, $"{ns}/content", new { content = "{\"flags\": []}", expectedRevision = revision });

        await page.GotoAsync($"/#/apps/{app}/PRO/features");
        await Expect(page.GetByTestId("flags-unshowable")).ToHaveTextAsync("The form cannot show this document: it is not an object with a \"flags\" object. Fix it here as raw JSON.");
        var text = page.GetByLabel("Document (flags)");
        await Expect(text).ToHaveValueAsync("{\"flags\": []}");
        await text.FillAsync("""
            {"flags": {"Rank": {"type": "string", "variants": {"a": "bm25", "b": "ltr"}, "defaultVariant": "a",
              "rules": [{"name": "first", "groups": ["staff"], "variant": "b"}, {"name": "second", "variant": "a"}]}}}
            """);
        await page.GetByRole(AriaRole.Button, new() { Name = "Form", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("flags-unshowable")).ToBeHiddenAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit Rank" }).ClickAsync();
        await Expect(page.GetByLabel("Name (rule 1)")).ToHaveValueAsync("first");
        await Expect(page.GetByLabel("Groups (rule 1)")).ToHaveValueAsync("staff");
        await Expect(page.GetByLabel("Value of variant b")).ToHaveValueAsync("ltr");
        await page.GetByRole(AriaRole.Button, new() { Name = "Move down rule 1" }).ClickAsync();
        await Expect(page.GetByLabel("Name (rule 1)")).ToHaveValueAsync("second");
        await Expect(page.GetByLabel("Groups (rule 2)")).ToHaveValueAsync("staff");

        // Unsaved form edits go over to the raw text, and Save draft there writes them.
        await page.GetByRole(AriaRole.Button, new() { Name = "Raw JSON" }).ClickAsync();
        await Expect(page.Locator("#doc-status")).ToContainTextAsync("unsaved edits");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save draft" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the working copy (not published yet)");
        using var saved = JsonDocument.Parse((await http.SendAsync(HttpMethod.Get, ns)).GetProperty("content").GetString()!);
        var rules = saved.RootElement.GetProperty("flags").GetProperty("Rank").GetProperty("rules");
        Assert.Equal(["second", "first"], rules.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
    });

    private sealed record BucketVector(string Seed, string Key, int Bucket);

    /// <summary>The "buckets" of tests/flags/vectors.json (written from tests/flags/bucket.py, an independent implementation).</summary>
    private static IEnumerable<BucketVector> BucketVectors()
    {
        using var vectors = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Of("tests", "flags", "vectors.json")));
        return vectors.RootElement.GetProperty("buckets").EnumerateArray()
            .Select(v => new BucketVector(v.GetProperty("seed").GetString()!, v.GetProperty("key").GetString()!, v.GetProperty("bucket").GetInt32()))
            .ToArray();
    }

    /// <summary>The flag as the latest release holds it, after checking that release is <paramref name="releaseId"/> and its content parses.</summary>
    private static async Task<JsonElement> LatestFlagAsync(HttpClient http, string ns, long releaseId, string name = Flag)
    {
        var latest = await http.SendAsync(HttpMethod.Get, $"{ns}/releases/latest");
        Assert.Equal(releaseId, latest.GetProperty("id").GetInt64());
        using var content = JsonDocument.Parse(latest.GetProperty("content").GetString()!);
        return content.RootElement.GetProperty("flags").GetProperty(name).Clone();
    }
}

using System.Text.Json;

namespace Conclave.Console.Tests;

/// <summary>
/// The configuration work done from the console (issue 22 item 5): audit cells that break only between words, a
/// namespace's JSON Schema, properties edited as text, deleting environments and apps, public namespaces and
/// associations, export and import with a dry run; apps picked by prefix, never listed whole (issue 23 item 5).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConfigWorkConsoleTests(ConsoleFixture fixture, ITestOutputHelper output) : BrowserTest(fixture, output)
{
    [Fact]
    public Task Audit_cells_break_between_words_and_keep_time_and_action_on_one_line() => InBrowserAsync(async page =>
    {
        var app = NewName("audited");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SetItemAsync(ns, "a.rather.long.key.name.that.should.not.break.inside", "value");

        await page.GotoAsync($"/#/audit?app={app}");
        var row = page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "item.set" });
        await Expect(row).ToHaveCountAsync(1);
        var cells = row.GetByRole(AriaRole.Cell);
        await Expect(cells.Nth(0)).ToHaveCSSAsync("white-space", "nowrap");
        await Expect(cells.Nth(3)).ToHaveCSSAsync("white-space", "nowrap");
        await Expect(cells.Nth(3).Locator("code")).ToHaveCSSAsync("word-break", "normal");
        foreach (var at in new[] { 4, 5 })
        {
            await Expect(cells.Nth(at)).ToHaveCSSAsync("word-break", "normal");
            await Expect(cells.Nth(at)).ToHaveCSSAsync("overflow-wrap", "normal");
            await Expect(cells.Nth(at)).ToHaveCSSAsync("white-space", "normal");
        }
    });

    [Fact]
    public Task Audit_and_delivery_pages_suggest_apps_by_prefix_and_never_load_every_app() => InBrowserAsync(async page =>
    {
        // Issue 23 item 5: with thousands of apps, a page that filters by app must not fetch them all for a dropdown.
        var prefix = NewName("pick");
        using var http = Fixture.Http();
        await http.NamespaceAsync(prefix + "-orders", "PRO", "application", "properties");
        await http.NamespaceAsync(prefix + "-billing", "PRO", "application", "properties");
        await http.NamespaceAsync(NewName("other"), "PRO", "application", "properties");
        var appLists = new List<string>();
        page.Request += (_, request) =>
        {
            var path = new Uri(request.Url).AbsolutePath;
            if (path == "/api/v1/apps")
            {
                lock (appLists)
                {
                    appLists.Add(request.Url);
                }
            }
        };

        await page.GotoAsync("/#/audit");
        var app = page.GetByLabel("App", new() { Exact = true });
        await app.FillAsync(prefix);
        var suggestions = page.Locator("datalist option");
        await Expect(suggestions).ToHaveCountAsync(2);
        Assert.Equal([prefix + "-billing", prefix + "-orders"], await suggestions.EvaluateAllAsync<string[]>("os => os.map(o => o.value)"));
        await app.FillAsync(prefix + "-orders");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"app={prefix}-orders"));
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Audit entries" })).ToContainTextAsync("namespace.create");

        await page.GotoAsync("/#/delivery");
        var deliveryApp = page.GetByLabel("App", new() { Exact = true });
        await deliveryApp.FillAsync(prefix + "-billing");
        await deliveryApp.DispatchEventAsync("change");
        await page.GetByLabel("Environment").SelectOptionAsync("PRO");
        await page.GetByLabel("Namespace").SelectOptionAsync("application");
        await Expect(page.GetByText("Nothing published yet")).ToBeVisibleAsync();

        lock (appLists)
        {
            Assert.NotEmpty(appLists);
            Assert.All(appLists, url => Assert.Contains("limit=", url, StringComparison.Ordinal));
        }
    });

    [Fact]
    public Task Schema_is_attached_refused_when_bad_and_removed_on_the_policy_tab() => InBrowserAsync(async page =>
    {
        var app = NewName("schemas");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "settings", "json");

        await page.GotoAsync($"/#/apps/{app}/PRO/settings?tab=policy");
        await Expect(page.GetByTestId("schema-status")).ToHaveTextAsync("No schema: publishing checks the format only.");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "JSON Schema" });
        await form.GetByLabel("Schema (JSON)").FillAsync("{\"type\": 12}");
        await form.GetByRole(AriaRole.Button, new() { Name = "Attach schema" }).ClickAsync();
        await Expect(form.GetByRole(AriaRole.Alert)).ToBeVisibleAsync();
        await Expect(form.GetByRole(AriaRole.Alert)).ToContainTextAsync("schema");
        Assert.Equal(JsonValueKind.Null, (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("schema").ValueKind);

        const string schema = "{\"type\": \"object\", \"required\": [\"port\"]}";
        await form.GetByLabel("Schema (JSON)").FillAsync(schema);
        await form.GetByRole(AriaRole.Button, new() { Name = "Attach schema" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the schema");
        await Expect(page.GetByTestId("schema-status")).ToHaveTextAsync("Publishing checks the working copy against this schema.");
        await ScreenAsync(page, "schema");
        Assert.Equal(schema, (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("schema").GetString());

        await page.GetByRole(AriaRole.Button, new() { Name = "Remove schema" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Removed the schema");
        await Expect(page.GetByTestId("schema-status")).ToHaveTextAsync("No schema: publishing checks the format only.");
        Assert.Equal(JsonValueKind.Null, (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("schema").ValueKind);
    });

    [Fact]
    public Task Properties_are_edited_as_text_with_comments_above_their_keys() => InBrowserAsync(async page =>
    {
        var app = NewName("texted");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SendAsync(HttpMethod.Put, $"{ns}/items/port", new { value = "8080", comment = "the port" });
        await http.SetItemAsync(ns, "host", "a");

        await page.GotoAsync($"/#/apps/{app}/PRO/application");
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit as text" }).ClickAsync();
        var text = page.GetByLabel("Working copy as text (key=value; # comment above its key)");
        await Expect(text).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("# the port\\nport=8080"));
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Items" })).ToBeHiddenAsync();
        await text.FillAsync("# where to listen\nport=9090\nhost=a\nretries=3\n");
        await ScreenAsync(page, "properties-text");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save text" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Saved the working copy from text: 3 items (not published yet)");
        var items = (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("key").GetString()!);
        Assert.Equal("9090", items["port"].GetProperty("value").GetString());
        Assert.Equal("where to listen", items["port"].GetProperty("comment").GetString());
        Assert.Equal("3", items["retries"].GetProperty("value").GetString());

        // Publishing from text mode publishes the text as shown: unsaved text is saved first.
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit as text" }).ClickAsync();
        await text.FillAsync("# where to listen\nport=7070\nhost=a\nretries=3\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review and publish" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = $"Publish {app}/PRO/application" });
        await Expect(dialog.GetByRole(AriaRole.Table, new() { Name = "Changes to publish" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "port" })).ToContainTextAsync("7070");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Publish" }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Published r1");
        Assert.Equal("7070", (await http.SendAsync(HttpMethod.Get, $"{ns}/releases/latest")).GetProperty("configurations").GetProperty("port").GetString());
    });

    [Fact]
    public Task Environment_and_app_are_deleted_after_typing_their_names() => InBrowserAsync(async page =>
    {
        var app = NewName("doomed");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "DEV", "application", "properties");

        await page.GotoAsync($"/#/apps/{app}?env=DEV");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete environment DEV" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = $"Delete environment {app}/DEV?" });
        var delete = dialog.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true });
        await Expect(delete).ToBeDisabledAsync();
        await dialog.GetByLabel("Type DEV to confirm").FillAsync("DE");
        await Expect(delete).ToBeDisabledAsync();
        await dialog.GetByLabel("Type DEV to confirm").FillAsync("DEV");
        await delete.ClickAsync();
        // The member refuses while a namespace is left, and says so.
        var section = page.GetByRole(AriaRole.Region, new() { Name = "Delete" });
        await Expect(section.GetByRole(AriaRole.Alert)).ToContainTextAsync("still has 1 namespace(s)");

        await http.SendAsync(HttpMethod.Delete, ns);
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete environment DEV" }).ClickAsync();
        await dialog.GetByLabel("Type DEV to confirm").FillAsync("DEV");
        await delete.ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync("Deleted environment DEV");
        Assert.Empty((await http.SendAsync(HttpMethod.Get, $"/api/v1/apps/{app}/envs")).EnumerateArray());

        await page.GetByRole(AriaRole.Button, new() { Name = $"Delete app {app}" }).ClickAsync();
        var appDialog = page.GetByRole(AriaRole.Dialog, new() { Name = $"Delete app {app}?" });
        await appDialog.GetByLabel($"Type {app} to confirm").FillAsync(app);
        await appDialog.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(Banner(page)).ToHaveTextAsync($"Deleted app {app}");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/apps$"));
        await Assert.ThrowsAsync<HttpRequestException>(() => http.SendAsync(HttpMethod.Get, $"/api/v1/apps/{app}"));
    });

    [Fact]
    public Task Public_namespace_is_created_and_associated_by_another_app() => InBrowserAsync(async page =>
    {
        var platform = NewName("platform");
        var shop = NewName("shop");
        using var http = Fixture.Http();
        foreach (var app in new[] { platform, shop })
        {
            await http.SendAsync(HttpMethod.Post, "/api/v1/apps", new { id = app });
            await http.SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs", new { name = "PRO" });
        }

        await page.GotoAsync($"/#/apps/{platform}?env=PRO");
        var create = page.GetByRole(AriaRole.Form, new() { Name = "New namespace" });
        await create.GetByLabel("Namespace name").FillAsync("logging");
        await create.GetByLabel("Public (other apps may associate it)").CheckAsync();
        await create.GetByRole(AriaRole.Button, new() { Name = "Create namespace" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("public");
        Assert.True((await http.SendAsync(HttpMethod.Get, $"/api/v1/apps/{platform}/envs/PRO/namespaces/logging")).GetProperty("isPublic").GetBoolean());

        await page.GotoAsync($"/#/apps/{shop}?env=PRO");
        var associate = page.GetByRole(AriaRole.Form, new() { Name = "Associate a public namespace" });
        await associate.GetByLabel("Base app").FillAsync(platform);
        await associate.GetByLabel("Public namespace").FillAsync("logging");
        await associate.GetByRole(AriaRole.Button, new() { Name = "Associate" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync($"overrides {platform}");
        Assert.Equal(platform, (await http.SendAsync(HttpMethod.Get, $"/api/v1/apps/{shop}/envs/PRO/namespaces/logging")).GetProperty("baseApp").GetString());
    });

    [Fact]
    public Task Export_downloads_the_app_and_import_shows_a_dry_run_before_writing() => InBrowserAsync(async page =>
    {
        var app = NewName("moved");
        using var http = Fixture.Http();
        var ns = await http.NamespaceAsync(app, "PRO", "application", "properties");
        await http.SetItemAsync(ns, "port", "8080");

        await page.GotoAsync($"/#/apps/{app}?env=PRO");
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export", Exact = true }).ClickAsync());
        Assert.Equal($"{app}.conclave.json", download.SuggestedFilename);
        var file = Path.Combine(OutputDirectory("downloads"), $"{app}.json");
        await download.SaveAsAsync(file);
        var exported = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.Equal("conclave.config.export", exported.GetProperty("kind").GetString());

        // The working copy moves on; importing the file back (overwrite) shows the change first and writes only on confirm.
        await http.SetItemAsync(ns, "port", "9090");
        var import = page.GetByRole(AriaRole.Form, new() { Name = "Import" });
        await import.GetByLabel("Export file").SetInputFilesAsync(file);
        await import.GetByLabel("Overwrite namespaces that differ").CheckAsync();
        await import.GetByRole(AriaRole.Button, new() { Name = "Dry run" }).ClickAsync();
        var dry = page.GetByRole(AriaRole.Table, new() { Name = "Import dry run" });
        var row = dry.GetByRole(AriaRole.Row).Filter(new() { HasText = "application" }).First;
        await Expect(row).ToContainTextAsync("Updated");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Changes to PRO/application" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "port" }))
            .ToContainTextAsync("Changed90908080");
        Assert.Equal("9090", await PortAsync(http, ns));
        await dry.ScrollIntoViewIfNeededAsync();
        await ScreenAsync(page, "import-dry-run");

        await page.GetByRole(AriaRole.Button, new() { Name = "Import for real" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Import result" }).GetByRole(AriaRole.Row).Filter(new() { HasText = "application" }).First)
            .ToContainTextAsync("Updated");
        Assert.Equal("8080", await PortAsync(http, ns));
    });

    private static async Task<string?> PortAsync(HttpClient http, string ns) =>
        (await http.SendAsync(HttpMethod.Get, ns)).GetProperty("items").EnumerateArray().Single(i => i.GetProperty("key").GetString() == "port").GetProperty("value").GetString();
}

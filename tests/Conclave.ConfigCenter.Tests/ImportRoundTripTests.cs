using System.Text.Json;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// An export imports back: into the app it came from (nothing changes), and into a fresh app (everything is created,
/// associations of public namespaces included: before, they were refused as Invalid). A dry run checks what publish
/// checks (parse and schema) and reports exactly what the import would change, writing nothing.
/// </summary>
public sealed class ImportRoundTripTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static ChangeContext Alice => NodeFixture.Alice;

    private ConfigCenterService Center => fixture.Center;

    private ConfigTransferService Transfer() => new(Port());

    private LocalKeyValuePort Port() => fixture.NewPort();

    private long Revision => fixture.Node.Server.Node.Store.Revision;

    [Fact]
    public async Task An_export_imports_into_the_same_app_unchanged_and_into_a_fresh_app_whole()
    {
        var platform = await fixture.NewAppAsync("PRO");
        await Center.CreateNamespaceAsync(platform, "PRO", "logging", NamespaceFormat.Properties, null, isPublic: true, Alice);
        await Center.SetItemAsync(platform, "PRO", "logging", new ConfigItem("level", "info"), 0, Alice);
        await Center.PublishAsync(platform, "PRO", "logging", "base", null, 0, Alice);

        var app = await fixture.NewAppAsync("PRO");
        await Center.CreateEnvironmentAsync(app, "DEV", Alice);
        await Center.CreateNamespaceAsync(app, "PRO", "application", NamespaceFormat.Properties, """{"type":"object","required":["port"]}""", Alice);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("port", "8080", "http port"), 0, Alice);
        await Center.SetItemAsync(app, "PRO", "application", new ConfigItem("db/primary", "pg-1"), 0, Alice);
        await Center.PublishAsync(app, "PRO", "application", "r1", null, 0, Alice);
        await Center.CreateNamespaceAsync(app, "PRO", "settings.json", NamespaceFormat.Json, """{"type":"object"}""", Alice);
        await Center.SetContentAsync(app, "PRO", "settings.json", """{"a": [1, 2]}""", 0, Alice);
        await Center.CreateNamespaceAsync(app, "DEV", "notes", NamespaceFormat.Text, null, Alice);
        await Center.SetContentAsync(app, "DEV", "notes", "free text: [{&*", 0, Alice);
        await new PublicNamespaceService(Port()).AssociateNamespaceAsync(app, "PRO", "logging", platform, Alice);
        await Center.SetItemAsync(app, "PRO", "logging", new ConfigItem("level", "debug"), 0, Alice);

        var file = ThroughTheWire(await Transfer().ExportAsync(app, null, null));
        Assert.Contains(file.Environments.SelectMany(e => e.Namespaces), n => n.BaseApp == platform);

        // Into the same app: nothing to do, nothing written.
        var before = Revision;
        var same = await Transfer().ImportAsync(app, file, null, overwrite: false, dryRun: false, Alice);
        Assert.False(same.HasProblems, Describe(same));
        Assert.All(same.Namespaces, n => Assert.Equal(ImportAction.Unchanged, n.Action));
        Assert.Equal(before, Revision);

        // Into a fresh app (no environments yet): a dry run says what would be created and writes nothing, then the import creates it all.
        var fresh = "fresh-" + Guid.NewGuid().ToString("N")[..8];
        await Center.CreateAppAsync(fresh, null, "team", Alice);
        before = Revision;
        var dry = await Transfer().ImportAsync(fresh, file, null, overwrite: false, dryRun: true, Alice);
        Assert.False(dry.HasProblems, Describe(dry));
        Assert.All(dry.Namespaces, n => Assert.Equal(ImportAction.Created, n.Action));
        Assert.Equal(before, Revision);
        var application = dry.Namespaces.Single(n => n.Namespace == "application");
        Assert.Equal(["port", "db/primary"], application.Changes.Select(c => c.Key));
        Assert.All(application.Changes, c => Assert.Equal(DiffChange.Added, c.Change));

        var imported = await Transfer().ImportAsync(fresh, file, null, overwrite: false, dryRun: false, Alice);
        Assert.False(imported.HasProblems, Describe(imported));
        Assert.All(imported.Namespaces, n => Assert.Equal(ImportAction.Created, n.Action));
        foreach (var env in file.Environments)
        {
            foreach (var expected in env.Namespaces)
            {
                var actual = await Center.GetNamespaceAsync(fresh, env.Name, expected.Name);
                Assert.Equal(expected.Format, actual.Format);
                Assert.Equal(expected.Schema, actual.Schema);
                Assert.Equal(expected.BaseApp, actual.BaseApp);
                Assert.Equal(expected.Items, actual.Items);
                Assert.Equal(expected.Content, actual.Format == NamespaceFormat.Properties ? "" : actual.Content);
            }
        }

        // Its own export imports back into it unchanged, and the association serves the base with the override.
        var again = await Transfer().ImportAsync(fresh, ThroughTheWire(await Transfer().ExportAsync(fresh, null, null)), null, overwrite: false, dryRun: false, Alice);
        Assert.All(again.Namespaces, n => Assert.Equal(ImportAction.Unchanged, n.Action));
        await Center.PublishAsync(fresh, "PRO", "logging", "overrides", null, 0, Alice);
        var effective = await fixture.Delivery.FetchAsync(fresh, "PRO", "logging", "pod-1", []);
        Assert.Equal("debug", effective.Release.Configurations["level"]);
    }

    [Fact]
    public async Task A_dry_run_validates_against_the_schema_and_reports_exactly_what_would_change()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        foreach (var (k, v) in new[] { ("a", "1"), ("b", "2"), ("c", "3") })
        {
            await Center.SetItemAsync(app, "DEV", "application", new ConfigItem(k, v), 0, Alice);
        }

        await Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        await Center.CreateNamespaceAsync(app, "DEV", "settings.json", NamespaceFormat.Json, """{"type":"object","required":["port"]}""", Alice);
        await Center.SetContentAsync(app, "DEV", "settings.json", """{"port": 1}""", 0, Alice);
        await Center.PublishAsync(app, "DEV", "settings.json", "r1", null, 0, Alice);

        const string portSchema = """{"type":"object","properties":{"port":{"type":"string","pattern":"^[0-9]+$"}}}""";
        var file = new ConfigExport
        {
            App = app,
            Environments =
            [
                new EnvironmentExport("DEV",
                [
                    new NamespaceExport { Name = "application", Format = NamespaceFormat.Properties, Items = [new ConfigItem("a", "1"), new ConfigItem("b", "20"), new ConfigItem("d", "4")] },
                    new NamespaceExport { Name = "settings.json", Format = NamespaceFormat.Json, Schema = """{"type":"object","required":["port"]}""", Content = """{"host": "x"}""" },
                    new NamespaceExport { Name = "ports", Format = NamespaceFormat.Properties, Schema = portSchema, Items = [new ConfigItem("port", "http")] },
                    new NamespaceExport { Name = "bomb.yaml", Format = NamespaceFormat.Yaml, Content = "a: &a [1, *a]\n" },
                ]),
            ],
        };

        var before = Revision;
        var dry = await Transfer().ImportAsync(app, file, null, overwrite: false, dryRun: true, Alice);
        Assert.Equal(before, Revision);
        var by = dry.Namespaces.ToDictionary(n => n.Namespace);

        Assert.Equal(ImportAction.Updated, by["application"].Action);
        Assert.Equal(
            [new DiffEntry("b", DiffChange.Changed, "2", "20"), new DiffEntry("d", DiffChange.Added, null, "4"), new DiffEntry("c", DiffChange.Removed, "3", null)],
            by["application"].Changes);
        Assert.Equal("added d; changed b; removed c", by["application"].Detail);
        Assert.Equal(ImportAction.Invalid, by["settings.json"].Action);
        Assert.Contains("schema", by["settings.json"].Detail, StringComparison.Ordinal);
        Assert.Contains("port", by["settings.json"].Detail, StringComparison.Ordinal);
        Assert.Equal(ImportAction.Invalid, by["ports"].Action);
        Assert.Contains("/port", by["ports"].Detail, StringComparison.Ordinal);
        Assert.Equal(ImportAction.Invalid, by["bomb.yaml"].Action);
        Assert.Contains("alias *a is inside its own anchor", by["bomb.yaml"].Detail, StringComparison.Ordinal);

        // The import does what the dry run said, and only that.
        var result = await Transfer().ImportAsync(app, file, null, overwrite: false, dryRun: false, Alice);
        Assert.Equal(dry.Namespaces.Select(n => (n.Namespace, n.Action, n.Detail)), result.Namespaces.Select(n => (n.Namespace, n.Action, n.Detail)));
        Assert.Equal(by["application"].Changes, result.Namespaces.Single(n => n.Namespace == "application").Changes);
        Assert.Equal(["a", "b", "d"], (await Center.GetNamespaceAsync(app, "DEV", "application")).Items.Select(i => i.Key));
        Assert.Equal("""{"port": 1}""", (await Center.GetNamespaceAsync(app, "DEV", "settings.json")).Content);
        await Assert.ThrowsAsync<ConfigCenterException>(() => Center.GetNamespaceAsync(app, "DEV", "ports").AsTask());
    }

    private static ConfigExport ThroughTheWire(ConfigExport file) =>
        JsonSerializer.Deserialize<ConfigExport>(JsonSerializer.Serialize(file, ConfigJson.Options), ConfigJson.Options)!;

    private static string Describe(ImportResult result) =>
        string.Join("; ", result.Namespaces.Select(n => $"{n.Env}/{n.Namespace}: {n.Action} {n.Detail}"));
}

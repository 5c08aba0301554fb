using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;

namespace Conclave.ConfigCenter.Tests;

/// <summary>Deletes (what is refused and why, audit), and export/import of working copies.</summary>
public sealed class RemovalAndTransferTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private ConfigRemovalService Removal() => new(Port());

    private ConfigTransferService Transfer() => new(Port());

    private LocalKeyValuePort Port() => fixture.NewPort();

    [Fact]
    public async Task Namespace_delete_is_refused_while_instances_report_and_forced_delete_removes_everything()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("k", "1"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        await fixture.Delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, DeliveryStatus.Applied, null, null);

        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Removal().DeleteNamespaceAsync(app, "DEV", "application", force: false, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains("1 live instance", refused.Message, StringComparison.Ordinal);
        Assert.Single(await fixture.Delivery.InstancesAsync(app, "DEV", "application"));

        await Removal().DeleteNamespaceAsync(app, "DEV", "application", force: true, Alice);
        var gone = await Assert.ThrowsAsync<ConfigCenterException>(() => fixture.Center.GetNamespaceAsync(app, "DEV", "application").AsTask());
        Assert.Equal(ConfigErrorKind.NotFound, gone.Kind);

        // Created again under the same name, it starts over at release 1 and serves the new content, not a cached old release 1.
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        Assert.Empty(await fixture.Delivery.InstancesAsync(app, "DEV", "application"));
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("k", "2"), 0, Alice);
        var again = await fixture.Center.PublishAsync(app, "DEV", "application", "new r1", null, 0, Alice);
        Assert.Equal(1, again.Id);
        Assert.Equal("2", (await fixture.Delivery.FetchAsync(app, "DEV", "application", "pod-1", [])).Release.Configurations["k"]);
        Assert.Single(await fixture.Center.HistoryAsync(app, "DEV", "application"));
        Assert.Contains(await fixture.Center.AuditAsync(app), a => a.Action == "namespace.delete" && a.Detail == "forced");
    }

    [Fact]
    public async Task Environment_and_app_delete_bottom_up_only()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Json, null, Alice);

        var env = await Assert.ThrowsAsync<ConfigCenterException>(() => Removal().DeleteEnvironmentAsync(app, "DEV", Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, env.Kind);
        Assert.Contains("1 namespace", env.Message, StringComparison.Ordinal);
        var appRefused = await Assert.ThrowsAsync<ConfigCenterException>(() => Removal().DeleteAppAsync(app, Alice).AsTask());
        Assert.Contains("1 environment", appRefused.Message, StringComparison.Ordinal);

        await Removal().DeleteNamespaceAsync(app, "DEV", "application", force: false, Alice);
        await Removal().DeleteEnvironmentAsync(app, "DEV", Alice);
        Assert.Empty(await fixture.Center.ListEnvironmentsAsync(app));
        var audit = await fixture.Center.AuditAsync(app);
        Assert.Contains(audit, a => a.Action == "env.delete");
        await Removal().DeleteAppAsync(app, Alice);

        var missing = await Assert.ThrowsAsync<ConfigCenterException>(() => Removal().DeleteAppAsync(app, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.NotFound, missing.Kind);
        Assert.Equal(ConfigErrorKind.NotFound, (await Assert.ThrowsAsync<ConfigCenterException>(() => fixture.Center.GetAppAsync(app).AsTask())).Kind);
    }

    [Fact]
    public async Task Export_then_import_into_another_environment_round_trips_working_copies()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080", "http"), 0, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "application", new ConfigItem("mode", "fast"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "settings", NamespaceFormat.Json, """{"type":"object"}""", Alice);
        await fixture.Center.SetContentAsync(app, "DEV", "settings", """{"a": 1}""", 0, Alice);

        var file = await Transfer().ExportAsync(app, "DEV", null);
        Assert.Equal(ConfigExport.KindName, file.Kind);
        Assert.Equal(1, file.FormatVersion);
        var exported = Assert.Single(file.Environments);
        Assert.Equal(2, exported.Namespaces.Count);
        Assert.Equal(1, exported.Namespaces.Single(n => n.Name == "application").HeadReleaseId);

        // Through the wire format, as a file would travel.
        var text = System.Text.Json.JsonSerializer.Serialize(file, ConfigCenter.Keyspace.ConfigJson.Options);
        var read = System.Text.Json.JsonSerializer.Deserialize<ConfigExport>(text, ConfigCenter.Keyspace.ConfigJson.Options)!;

        var dry = await Transfer().ImportAsync(app, read, "FAT", overwrite: false, dryRun: true, Alice);
        Assert.All(dry.Namespaces, n => Assert.Equal(ImportAction.Created, n.Action));
        Assert.DoesNotContain(await fixture.Center.ListEnvironmentsAsync(app), e => e.Name == "FAT");

        var result = await Transfer().ImportAsync(app, read, "FAT", overwrite: false, dryRun: false, Alice);
        Assert.False(result.HasProblems);
        var fat = await fixture.Center.GetNamespaceAsync(app, "FAT", "application");
        Assert.Equal(new[] { new ConfigItem("port", "8080", "http"), new ConfigItem("mode", "fast") }, fat.Items);
        Assert.Equal(0, fat.HeadReleaseId); // working copy only: publishing is separate
        var settings = await fixture.Center.GetNamespaceAsync(app, "FAT", "settings");
        Assert.Equal("""{"a": 1}""", settings.Content);
        Assert.Equal("""{"type":"object"}""", settings.Schema);

        var again = await Transfer().ImportAsync(app, read, "FAT", overwrite: false, dryRun: false, Alice);
        Assert.All(again.Namespaces, n => Assert.Equal(ImportAction.Unchanged, n.Action));
        Assert.Contains(await fixture.Center.AuditAsync(app), a => a.Action == "import.create" && a.Target == $"{app}/FAT/settings");
    }

    [Fact]
    public async Task Import_reports_conflicts_and_invalid_namespaces_and_imports_the_rest()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "edited", NamespaceFormat.Properties, null, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "edited", new ConfigItem("k", "unpublished"), 0, Alice);
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "other-format", NamespaceFormat.Yaml, null, Alice);
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "clean", NamespaceFormat.Properties, null, Alice);
        await fixture.Center.SetItemAsync(app, "DEV", "clean", new ConfigItem("k", "1"), 0, Alice);
        await fixture.Center.PublishAsync(app, "DEV", "clean", "r1", null, 0, Alice);

        var file = new ConfigExport
        {
            App = "elsewhere",
            Environments =
            [
                new EnvironmentExport("DEV",
                [
                    new NamespaceExport { Name = "edited", Format = NamespaceFormat.Properties, Items = [new ConfigItem("k", "imported")] },
                    new NamespaceExport { Name = "other-format", Format = NamespaceFormat.Json, Content = "{}" },
                    new NamespaceExport { Name = "clean", Format = NamespaceFormat.Properties, Content = "k=2\nnew=yes\n" },
                    new NamespaceExport { Name = "bad", Format = NamespaceFormat.Properties, Items = [new ConfigItem("has space", "x")] },
                ]),
            ],
        };

        var result = await Transfer().ImportAsync(app, file, null, overwrite: false, dryRun: false, Alice);
        Assert.True(result.HasProblems);
        var by = result.Namespaces.ToDictionary(n => n.Namespace);
        Assert.Equal(ImportAction.Conflict, by["edited"].Action);
        Assert.Contains("unpublished", by["edited"].Detail, StringComparison.Ordinal);
        Assert.Equal(ImportAction.Conflict, by["other-format"].Action);
        Assert.Contains("Yaml", by["other-format"].Detail, StringComparison.Ordinal);
        Assert.Equal(ImportAction.Updated, by["clean"].Action);
        Assert.Equal(ImportAction.Invalid, by["bad"].Action);
        Assert.Contains("item key", by["bad"].Detail, StringComparison.Ordinal);

        Assert.Equal("unpublished", (await fixture.Center.GetNamespaceAsync(app, "DEV", "edited")).Items.Single().Value);
        Assert.Equal(["k", "new"], (await fixture.Center.GetNamespaceAsync(app, "DEV", "clean")).Items.Select(i => i.Key));
        await Assert.ThrowsAsync<ConfigCenterException>(() => fixture.Center.GetNamespaceAsync(app, "DEV", "bad").AsTask());

        var overwritten = await Transfer().ImportAsync(app, file with { Environments = [new EnvironmentExport("DEV", [file.Environments[0].Namespaces[0]])] }, null, overwrite: true, dryRun: false, Alice);
        Assert.Equal(ImportAction.Updated, Assert.Single(overwritten.Namespaces).Action);
        Assert.Equal("imported", (await fixture.Center.GetNamespaceAsync(app, "DEV", "edited")).Items.Single().Value);

        var wrongVersion = await Assert.ThrowsAsync<ConfigCenterException>(() => Transfer().ImportAsync(app, file with { FormatVersion = 2 }, null, false, false, Alice).AsTask());
        Assert.Contains("version 2", wrongVersion.Message, StringComparison.Ordinal);
    }
}

using System.Security.Cryptography;
using Conclave.ConfigCenter.Model;
using Conclave.ConfigCenter.Secrets;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Issue 22 item 1: a rollback resets the working copy to the release it restores (the docs' walk-through shipped the bad
/// port again with the next gray release), refuses unpublished edits unless told to discard or keep them, explains a
/// schema attached since instead of silently blocking, and discard resets the working copy to the main release.
/// </summary>
public sealed class RollbackThatSticksTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    private static ChangeContext Alice => NodeFixture.Alice;

    private async Task<string> TwoReleasesAsync()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080", "http port"), 0, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("host", "a.example"), 0, Alice);
        await Center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "9090", "http port"), 0, Alice);
        await Center.PublishAsync(app, "DEV", "application", "r2 (bad port)", null, 0, Alice);
        return app;
    }

    [Fact]
    public async Task After_a_rollback_the_next_gray_release_does_not_ship_the_bad_value_again()
    {
        var app = await TwoReleasesAsync();
        var r3 = await Center.RollbackAsync(app, "DEV", "application", 1, "9090 is bad", 0, Alice);
        Assert.Equal("8080", r3.Configurations["port"]);

        var n = await Center.GetNamespaceAsync(app, "DEV", "application");
        Assert.Equal([new ConfigItem("port", "8080", "http port"), new ConfigItem("host", "a.example")], n.Items);
        Assert.Empty(n.Editors);
        Assert.Empty(await Center.DiffWorkingCopyAsync(app, "DEV", "application"));

        // The docs' next step: a gray release of a new edit ships that edit and nothing else.
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("timeout", "5s"), 0, Alice);
        var gray = await Center.GrayPublishAsync(app, "DEV", "application", new GrayRule { Percentage = 10 }, "timeout", null, 0, Alice);
        Assert.Equal("8080", gray.Configurations["port"]);
        Assert.Equal([new DiffEntry("timeout", DiffChange.Added, null, "5s")], await Center.DiffReleasesAsync(app, "DEV", "application", r3.Id, gray.Id));
    }

    [Fact]
    public async Task Unpublished_edits_are_refused_by_name_unless_discarded_or_kept()
    {
        var app = await TwoReleasesAsync();
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("timeout", "5s"), 0, Alice);
        await Center.DeleteItemAsync(app, "DEV", "application", "host", 0, Alice);
        var before = await Center.GetNamespaceAsync(app, "DEV", "application");

        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.RollbackAsync(app, "DEV", "application", 1, null, 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains("host, timeout", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--discard-edits", refused.Message, StringComparison.Ordinal);
        var after = await Center.GetNamespaceAsync(app, "DEV", "application");
        Assert.Equal((before.Revision, before.HeadReleaseId), (after.Revision, after.HeadReleaseId));

        // Keep: the release restores r1, the working copy keeps the edits (and its editors) for the next publish.
        var kept = await Center.RollbackAsync(app, "DEV", "application", 1, null, 0, RollbackEdits.Keep, ignoreSchema: false, Alice);
        Assert.Equal("8080", kept.Configurations["port"]);
        var n = await Center.GetNamespaceAsync(app, "DEV", "application");
        Assert.Equal(["port", "timeout"], n.Items.Select(i => i.Key));
        Assert.Equal("9090", n.Items.Single(i => i.Key == "port").Value);
        Assert.Equal(["alice"], n.Editors);

        // Discard: the working copy becomes the restored release.
        await Center.RollbackAsync(app, "DEV", "application", 1, null, 0, RollbackEdits.Discard, ignoreSchema: false, Alice);
        n = await Center.GetNamespaceAsync(app, "DEV", "application");
        Assert.Equal([new ConfigItem("port", "8080", "http port"), new ConfigItem("host", "a.example")], n.Items);
        Assert.Empty(n.Editors);
        Assert.Contains(await Center.AuditAsync(app), a => a.Action == "release.rollback" && a.Detail.Contains("unpublished edits discarded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Discard_resets_the_working_copy_to_the_main_release()
    {
        var app = await TwoReleasesAsync();
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "1"), 0, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("extra", "x"), 0, Alice);
        var n = await Center.DiscardAsync(app, "DEV", "application", 0, Alice);
        Assert.Equal([new ConfigItem("port", "9090", "http port"), new ConfigItem("host", "a.example")], n.Items);
        Assert.Empty(n.Editors);
        Assert.Empty(await Center.DiffWorkingCopyAsync(app, "DEV", "application"));
        Assert.Contains(await Center.HistoryAsync(app, "DEV", "application"), h => h.Operation == "discard" && h.Comment.Contains("extra, port", StringComparison.Ordinal));
        Assert.Contains(await Center.AuditAsync(app), a => a.Action == "content.discard");

        // A guard that is stale is a conflict; nothing released yet is a clear refusal.
        var stale = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.DiscardAsync(app, "DEV", "application", n.Revision - 1, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.Conflict, stale.Kind);
        await Center.CreateNamespaceAsync(app, "DEV", "fresh", NamespaceFormat.Properties, null, Alice);
        var none = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.DiscardAsync(app, "DEV", "fresh", 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, none.Kind);
    }

    [Fact]
    public async Task A_schema_attached_after_a_release_explains_itself_and_can_be_overridden()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "feature.json", NamespaceFormat.Json, null, Alice);
        await Center.SetContentAsync(app, "DEV", "feature.json", """{"port": "eighty"}""", 0, Alice);
        await Center.PublishAsync(app, "DEV", "feature.json", "r1", null, 0, Alice);
        await Center.SetContentAsync(app, "DEV", "feature.json", """{"port": 80}""", 0, Alice);
        await Center.SetSchemaAsync(app, "DEV", "feature.json", """{"type": "object", "properties": {"port": {"type": "integer"}}}""", 0, Alice);
        await Center.PublishAsync(app, "DEV", "feature.json", "r2", null, 0, Alice);

        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.RollbackAsync(app, "DEV", "feature.json", 1, null, 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.InvalidDocument, refused.Kind);
        Assert.Contains("does not satisfy the schema", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--ignore-schema", refused.Message, StringComparison.Ordinal);

        var r3 = await Center.RollbackAsync(app, "DEV", "feature.json", 1, null, 0, RollbackEdits.Refuse, ignoreSchema: true, Alice);
        Assert.Equal("""{"port": "eighty"}""", r3.Content);
        Assert.Equal("""{"port": "eighty"}""", (await Center.GetNamespaceAsync(app, "DEV", "feature.json")).Content);
        Assert.Contains(await Center.AuditAsync(app), a => a.Action == "release.rollback" && a.Detail.Contains("schema not checked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Secret_items_come_back_sealed_and_still_secret()
    {
        var port = new LocalKeyValuePort(fixture.Node.Server.Node, new LeaseKeeper(fixture.Node.Server.Node, NullLogger<LeaseKeeper>.Instance));
        var center = new ConfigCenterService(port, masterKeys: new LocalMasterKeys([RandomNumberGenerator.GetBytes(32)]));
        var app = await fixture.NewAppAsync();
        await center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", "first-secret", null, Secret: true), 0, Alice);
        await center.PublishAsync(app, "DEV", "application", "r1", null, 0, Alice);
        await center.SetItemAsync(app, "DEV", "application", new ConfigItem("db.password", "second-secret", null, Secret: true), 0, Alice);
        await center.PublishAsync(app, "DEV", "application", "r2", null, 0, Alice);

        await center.RollbackAsync(app, "DEV", "application", 1, null, 0, Alice);
        var stored = await center.Store.NamespaceAsync(app, "DEV", "application", default);
        var item = Assert.Single(stored.Items);
        Assert.True(item.Secret);
        Assert.StartsWith("sealed:", item.Value, StringComparison.Ordinal);
        Assert.Equal("first-secret", (await center.ViewAsync(stored, reveal: true, Alice)).Items.Single().Value);
        Assert.Empty(await center.DiffWorkingCopyAsync(app, "DEV", "application"));
    }
}

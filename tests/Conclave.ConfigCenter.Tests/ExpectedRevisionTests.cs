using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// An expected revision is a revision the caller read, or 0 for no guard: a negative one is refused by the service
/// itself (before, it was taken as "no guard"), on every change that takes one, and nothing is written.
/// </summary>
public sealed class ExpectedRevisionTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static ChangeContext Alice => NodeFixture.Alice;

    [Fact]
    public async Task A_negative_expected_revision_is_refused_everywhere()
    {
        var app = await fixture.NewAppAsync();
        var c = fixture.Center;
        await c.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, Alice);
        await c.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "1"), 0, Alice);
        await c.PublishAsync(app, "DEV", "p", "r1", null, 0, Alice);
        var changes = new (string Name, Func<Task> Change)[]
        {
            ("item set", () => c.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "2"), -1, Alice).AsTask()),
            ("item delete", () => c.DeleteItemAsync(app, "DEV", "p", "k", -1, Alice).AsTask()),
            ("publish", () => c.PublishAsync(app, "DEV", "p", null, null, -1, Alice).AsTask()),
            ("rollback", () => c.RollbackAsync(app, "DEV", "p", 1, null, -1, Alice).AsTask()),
            ("gray publish", () => c.GrayPublishAsync(app, "DEV", "p", new GrayRule { Percentage = 10 }, null, null, -1, Alice).AsTask()),
            ("gray promote", () => c.PromoteGrayAsync(app, "DEV", "p", -1, Alice).AsTask()),
            ("gray abandon", () => c.AbandonGrayAsync(app, "DEV", "p", -1, Alice).AsTask()),
            ("ns delete", () => fixture.Removal.DeleteNamespaceAsync(app, "DEV", "p", true, -1, Alice).AsTask()),
        };
        foreach (var (name, change) in changes)
        {
            var before = fixture.Node.Server.Node.Store.Revision;
            var e = await Assert.ThrowsAsync<ConfigCenterException>(change);
            Assert.True(e.Kind == ConfigErrorKind.InvalidArgument, $"{name}: {e.Kind} {e.Message}");
            Assert.Contains("expectedRevision -1 is negative", e.Message, StringComparison.Ordinal);
            Assert.Equal(before, fixture.Node.Server.Node.Store.Revision);
        }
    }

    [Fact]
    public async Task Deleting_a_namespace_is_refused_while_a_gray_release_runs_unless_forced_and_guarded_by_its_revision()
    {
        var app = await fixture.NewAppAsync();
        var c = fixture.Center;
        await c.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, Alice);
        await c.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "1"), 0, Alice);
        await c.PublishAsync(app, "DEV", "p", "r1", null, 0, Alice);
        await c.GrayPublishAsync(app, "DEV", "p", new GrayRule { Percentage = 10 }, null, null, 0, Alice);

        var gray = await Assert.ThrowsAsync<ConfigCenterException>(() => fixture.Removal.DeleteNamespaceAsync(app, "DEV", "p", false, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, gray.Kind);
        Assert.Contains("gray release running", gray.Message, StringComparison.Ordinal);

        var read = (await c.GetNamespaceAsync(app, "DEV", "p")).Revision;
        await c.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "2"), 0, Alice);
        var stale = await Assert.ThrowsAsync<ConfigCenterException>(() => fixture.Removal.DeleteNamespaceAsync(app, "DEV", "p", true, read, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.Conflict, stale.Kind);

        await fixture.Removal.DeleteNamespaceAsync(app, "DEV", "p", true, (await c.GetNamespaceAsync(app, "DEV", "p")).Revision, Alice);
        await Assert.ThrowsAsync<ConfigCenterException>(() => c.GetNamespaceAsync(app, "DEV", "p").AsTask());
    }
}

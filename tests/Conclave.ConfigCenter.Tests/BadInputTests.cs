using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

/// <summary>Each refusal is a clear, typed error, and the keyspace revision shows nothing was written.</summary>
public sealed class BadInputTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    private static ChangeContext Alice => NodeFixture.Alice;

    private long Revision => fixture.Node.Server.Node.Store.Revision;

    private async Task<ConfigCenterException> RefusedAsync(ConfigErrorKind kind, Func<Task> action, string? messagePart = null)
    {
        var before = Revision;
        var e = await Assert.ThrowsAsync<ConfigCenterException>(action);
        Assert.Equal(kind, e.Kind);
        if (messagePart is not null)
        {
            Assert.Contains(messagePart, e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, Revision);
        return e;
    }

    [Fact]
    public async Task Unknown_app_env_and_namespace()
    {
        var app = await fixture.NewAppAsync();
        await RefusedAsync(ConfigErrorKind.NotFound, () => Center.CreateEnvironmentAsync("no-such-app", "DEV", Alice).AsTask(), "app 'no-such-app' does not exist");
        await RefusedAsync(ConfigErrorKind.NotFound, () => Center.CreateNamespaceAsync(app, "QA", "n", NamespaceFormat.Text, null, Alice).AsTask(), "environment 'QA'");
        await RefusedAsync(ConfigErrorKind.NotFound, () => Center.PublishAsync(app, "DEV", "missing", null, null, 0, Alice).AsTask(), "namespace 'missing'");
        await RefusedAsync(ConfigErrorKind.NotFound, () => fixture.Delivery.FetchAsync(app, "DEV", "missing", "i", []).AsTask());
    }

    [Fact]
    public async Task Duplicate_names()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "n", NamespaceFormat.Text, null, Alice);
        await RefusedAsync(ConfigErrorKind.AlreadyExists, () => Center.CreateAppAsync(app, null, null, Alice).AsTask());
        await RefusedAsync(ConfigErrorKind.AlreadyExists, () => Center.CreateEnvironmentAsync(app, "DEV", Alice).AsTask());
        await RefusedAsync(ConfigErrorKind.AlreadyExists, () => Center.CreateNamespaceAsync(app, "DEV", "n", NamespaceFormat.Json, null, Alice).AsTask());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("-leading")]
    [InlineData("x123456789x123456789x123456789x123456789x123456789x123456789x1234")]
    public async Task Invalid_names(string name)
    {
        await RefusedAsync(ConfigErrorKind.InvalidArgument, () => Center.CreateAppAsync(name, null, null, Alice).AsTask(), "A-Z a-z 0-9");
    }

    [Fact]
    public async Task Unparsable_document_fails_publish_with_line_and_column_and_changes_nothing()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "cfg.json", NamespaceFormat.Json, null, Alice);
        await Center.SetContentAsync(app, "DEV", "cfg.json", "{\n  \"a\": [1, 2,\n}", 0, Alice);
        var e = await RefusedAsync(ConfigErrorKind.InvalidDocument, () => Center.PublishAsync(app, "DEV", "cfg.json", null, null, 0, Alice).AsTask());
        Assert.Equal(3, e.Line);
        Assert.NotNull(e.Column);
        var ns = await Center.GetNamespaceAsync(app, "DEV", "cfg.json");
        Assert.Equal(0, ns.HeadReleaseId);
        Assert.Empty(await Center.ListReleasesAsync(app, "DEV", "cfg.json"));
        Assert.Empty(await Center.HistoryAsync(app, "DEV", "cfg.json"));

        // Properties are parsed at edit time already.
        await Center.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, Alice);
        var p = await RefusedAsync(ConfigErrorKind.InvalidDocument, () => Center.SetContentAsync(app, "DEV", "p", "a=1\nbroken\n", 0, Alice).AsTask());
        Assert.Equal(2, p.Line);
    }

    [Fact]
    public async Task Invalid_schema_and_schema_rejection()
    {
        var app = await fixture.NewAppAsync();
        await RefusedAsync(ConfigErrorKind.InvalidSchema, () => Center.CreateNamespaceAsync(app, "DEV", "s", NamespaceFormat.Json, """{"type": "nonsense"}""", Alice).AsTask());
        await Center.CreateNamespaceAsync(app, "DEV", "s", NamespaceFormat.Json, """{"type":"object","properties":{"port":{"type":"integer","maximum":65535}}}""", Alice);
        await RefusedAsync(ConfigErrorKind.InvalidSchema, () => Center.SetSchemaAsync(app, "DEV", "s", "{not json", 0, Alice).AsTask());
        await Center.SetContentAsync(app, "DEV", "s", """{"port": 70000}""", 0, Alice);
        await RefusedAsync(ConfigErrorKind.InvalidDocument, () => Center.PublishAsync(app, "DEV", "s", null, null, 0, Alice).AsTask(), "/port");
    }

    [Fact]
    public async Task Oversized_value()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, Alice);
        await RefusedAsync(ConfigErrorKind.TooLarge, () => Center.SetItemAsync(app, "DEV", "p", new ConfigItem("big", new string('x', Center.Limits.MaxValueBytes + 1)), 0, Alice).AsTask(), "limit");
        await Center.CreateNamespaceAsync(app, "DEV", "t", NamespaceFormat.Text, null, Alice);
        await RefusedAsync(ConfigErrorKind.TooLarge, () => Center.SetContentAsync(app, "DEV", "t", new string('x', Center.Limits.MaxContentBytes + 1), 0, Alice).AsTask());
    }

    [Fact]
    public async Task Concurrent_edit_gets_a_conflict_not_a_silent_overwrite()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "p", NamespaceFormat.Properties, null, Alice);
        var read = await Center.GetNamespaceAsync(app, "DEV", "p");
        var bob = new ChangeContext("bob");
        await Center.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "alice"), read.Revision, Alice);
        var e = await RefusedAsync(ConfigErrorKind.Conflict, () => Center.SetItemAsync(app, "DEV", "p", new ConfigItem("k", "bob"), read.Revision, bob).AsTask());
        Assert.True(e.CurrentRevision > read.Revision);
        await RefusedAsync(ConfigErrorKind.Conflict, () => Center.PublishAsync(app, "DEV", "p", null, null, read.Revision, bob).AsTask());
        Assert.Equal("alice", Assert.Single((await Center.GetNamespaceAsync(app, "DEV", "p")).Items).Value);

        // Many editors at once without a guard: every edit lands, none is lost.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Center.SetItemAsync(app, "DEV", "p", new ConfigItem($"k{i}", "v"), 0, Alice).AsTask()));
        Assert.Equal(9, (await Center.GetNamespaceAsync(app, "DEV", "p")).Items.Count);
    }

    [Fact]
    public async Task Rollback_to_a_missing_release_and_gray_without_gray()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "t", NamespaceFormat.Text, null, Alice);
        await Center.PublishAsync(app, "DEV", "t", null, null, 0, Alice);
        await RefusedAsync(ConfigErrorKind.NotFound, () => Center.RollbackAsync(app, "DEV", "t", 7, null, 0, Alice).AsTask(), "release 7");
        await RefusedAsync(ConfigErrorKind.FailedPrecondition, () => Center.PromoteGrayAsync(app, "DEV", "t", 0, Alice).AsTask());
        await RefusedAsync(ConfigErrorKind.InvalidArgument, () => Center.GrayPublishAsync(app, "DEV", "t", new GrayRule { Percentage = 120 }, null, null, 0, Alice).AsTask());
        await RefusedAsync(ConfigErrorKind.InvalidArgument, () => Center.GrayPublishAsync(app, "DEV", "t", new GrayRule { Labels = ["nolabel"] }, null, null, 0, Alice).AsTask());
    }
}

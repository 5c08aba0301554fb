using System.Text.Json;
using Conclave.ConfigCenter.Model;
using Conclave.Flags;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Namespaces of format <c>flags</c> (docs/feature-flags.md) on a real member: the shared vectors' documents publish, the
/// invalid ones are refused at publish naming the path, and releases, diffs, rollbacks and gray releases work per flag.
/// </summary>
public sealed class FlagNamespaceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    private static ChangeContext Alice => NodeFixture.Alice;

    private static JsonElement Vectors { get; } = JsonDocument.Parse(File.ReadAllText(Path.Combine(VectorsDirectory(), "vectors.json"))).RootElement;

    [Fact]
    public async Task Every_vector_document_publishes_and_is_served_as_written()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        var published = 0;
        foreach (var vector in Vectors.GetProperty("cases").EnumerateArray())
        {
            var content = vector.GetProperty("document").GetRawText();
            await Center.SetContentAsync(app, "DEV", "flags", content, 0, Alice);
            var release = await Center.PublishAsync(app, "DEV", "flags", vector.GetProperty("name").GetString(), null, 0, Alice);
            var served = await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-1", []);
            Assert.Equal(release.Id, served.Release.Id);
            Assert.Equal(content, served.Release.Content);
            Assert.Equal(FlagSet.Parse(content).Flags.Keys.Order(), FlagSet.Parse(served.Release.Content).Flags.Keys.Order());
            published++;
        }

        Assert.True(published >= 5);
    }

    [Fact]
    public async Task Every_invalid_vector_document_is_refused_at_publish_naming_the_path()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        await Center.SetContentAsync(app, "DEV", "flags", """{"flags": {"good": {"type": "boolean", "defaultVariant": "on"}}}""", 0, Alice);
        var good = await Center.PublishAsync(app, "DEV", "flags", "good", null, 0, Alice);

        foreach (var vector in Vectors.GetProperty("invalid").EnumerateArray())
        {
            var name = vector.GetProperty("name").GetString();
            var path = vector.GetProperty("path").GetString()!;
            var content = vector.GetProperty("content").GetString()!;
            ConfigCenterException? refused = null;
            try
            {
                // Either step may refuse (the working copy is checked when it is written or at publish): neither may release it.
                await Center.SetContentAsync(app, "DEV", "flags", content, 0, Alice);
                await Center.PublishAsync(app, "DEV", "flags", name, null, 0, Alice);
            }
            catch (ConfigCenterException e)
            {
                refused = e;
            }

            Assert.True(refused is not null, $"{name}: published");
            Assert.True(refused.Kind == ConfigErrorKind.InvalidDocument, $"{name}: refused as {refused.Kind}: {refused.Message}");
            Assert.True(refused.Message.Contains("flags: " + path, StringComparison.Ordinal), $"{name}: '{refused.Message}' does not name '{path}'");
        }

        Assert.Equal(good.Id, (await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-1", [])).Release.Id);
    }

    [Fact]
    public async Task Diffs_are_per_flag_and_rollback_and_gray_release_serve_whole_documents()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        const string v1 = """{"flags": {"a": {"type": "boolean", "defaultVariant": "off"}, "b": {"type": "string", "variants": {"x": "X"}, "defaultVariant": "x"}}}""";
        const string v2 = """{"flags": {"a": {"type": "boolean", "defaultVariant": "on"}, "c": {"type": "boolean", "defaultVariant": "on"}, "b": {"type": "string", "variants": {"x": "X"}, "defaultVariant": "x"}}}""";
        await Center.SetContentAsync(app, "DEV", "flags", v1, 0, Alice);
        var r1 = await Center.PublishAsync(app, "DEV", "flags", "one", null, 0, Alice);
        await Center.SetContentAsync(app, "DEV", "flags", v2, 0, Alice);

        var working = await Center.DiffWorkingCopyAsync(app, "DEV", "flags");
        Assert.Equal([("a", DiffChange.Changed), ("c", DiffChange.Added)], working.Select(d => (d.Key, d.Change)));
        Assert.Contains("\"defaultVariant\":\"on\"", working[0].NewValue, StringComparison.Ordinal);

        var r2 = await Center.PublishAsync(app, "DEV", "flags", "two", null, 0, Alice);
        Assert.Equal(["a", "c"], (await Center.DiffReleasesAsync(app, "DEV", "flags", r1.Id, r2.Id)).Select(d => d.Key));

        // A gray release of a flags document: the chosen instance evaluates the gray flags, the others the main release.
        const string gray = """{"flags": {"a": {"type": "boolean", "defaultVariant": "off"}, "c": {"type": "boolean", "defaultVariant": "off"}}}""";
        await Center.SetContentAsync(app, "DEV", "flags", gray, 0, Alice);
        await Center.GrayPublishAsync(app, "DEV", "flags", new GrayRule { InstanceIds = ["pod-gray"] }, null, null, 0, Alice);
        Assert.Equal(gray, (await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-gray", [])).Release.Content);
        var main = (await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-main", [])).Release.Content;
        Assert.True(FlagReader.GetBoolean(FlagSet.Parse(main), "a", false, FlagContext.Empty).Value);
        await Center.AbandonGrayAsync(app, "DEV", "flags", 0, Alice);
        await Center.DiscardAsync(app, "DEV", "flags", 0, Alice);

        var r3 = await Center.RollbackAsync(app, "DEV", "flags", r1.Id, "back", 0, Alice);
        var served = (await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-main", [])).Release;
        Assert.Equal(r3.Id, served.Id);
        Assert.Equal(v1, served.Content);
        Assert.False(FlagReader.GetBoolean(FlagSet.Parse(served.Content), "a", true, FlagContext.Empty).Value);
    }

    private static string VectorsDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Conclave.slnx")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException($"no Conclave.slnx above {AppContext.BaseDirectory}"), "tests", "flags");
    }
}

using System.Net.Http.Json;
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

    private static JsonElement Vectors { get; } = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Of("tests", "flags", "vectors.json"))).RootElement;

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
        var empty = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.PublishAsync(app, "DEV", "flags", "nothing yet", null, 0, Alice).AsTask());
        Assert.Contains("the document is empty: a flags document is {\"flags\": {...}}", empty.Message, StringComparison.Ordinal);
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

    [Fact]
    public async Task Evaluation_counts_are_summed_over_the_live_fleet_and_unused_flags_turn_stale()
    {
        var clock = new ManualClock();
        var port = fixture.NewPort();
        var delivery = new DeliveryService(port, clock: clock);
        var center = new ConfigCenterService(port, clock: clock);
        var store = new Keyspace.ConfigStore(port);
        var app = await fixture.NewAppAsync();
        await center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        await center.SetContentAsync(app, "DEV", "flags", """{"flags": {"a": {"type": "boolean", "defaultVariant": "off"}, "b": {"type": "boolean", "defaultVariant": "on"}}}""", 0, Alice);
        var release = await center.PublishAsync(app, "DEV", "flags", null, null, 0, Alice);

        await delivery.ReportAsync(app, "DEV", "flags", "pod-1", [], release.Id, DeliveryStatus.Applied, null, null, [new("a", "on", 10, 10), new("a", "off", 5, 5)]);
        await delivery.ReportAsync(app, "DEV", "flags", "pod-2", [], release.Id, DeliveryStatus.Applied, null, null, [new("a", "on", 3, 0)]);
        var usage = await delivery.FlagUsageAsync(app, "DEV", "flags");
        Assert.Equal(release.Id, usage.ReleaseId);
        Assert.Equal(["a", "b"], usage.Flags.Select(f => f.Flag));
        var a = usage.Flags[0];
        Assert.Equal(new Dictionary<string, long> { ["off"] = 5, ["on"] = 13 }, a.Variants);
        Assert.Equal(2, a.Instances);
        Assert.Equal(new DateTimeOffset(clock.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero), a.LastEvaluated);
        Assert.False(a.Stale);
        Assert.Empty(usage.Flags[1].Variants);
        Assert.Null(usage.Flags[1].LastEvaluated);
        Assert.False(usage.Flags[1].Stale); // never evaluated, but released less than a week ago

        // A report the same day writes the instance record only: the usage record already says "today".
        var written = (await store.GetAsync<FlagUsageRecord>(Keyspace.ConfigKeys.FlagUsage(app, "DEV", "flags"), default)).ModRevision;
        await delivery.ReportAsync(app, "DEV", "flags", "pod-1", [], release.Id, DeliveryStatus.Applied, null, null, [new("a", "on", 20, 10), new("a", "off", 5, 0)]);
        Assert.Equal(written, (await store.GetAsync<FlagUsageRecord>(Keyspace.ConfigKeys.FlagUsage(app, "DEV", "flags"), default)).ModRevision);
        Assert.Equal(23, (await delivery.FlagUsageAsync(app, "DEV", "flags")).Flags[0].Variants["on"]);

        // Eight days on, nobody evaluated either flag since: both are stale after a week, neither after ten days.
        clock.Advance(TimeSpan.FromDays(8));
        Assert.All((await delivery.FlagUsageAsync(app, "DEV", "flags")).Flags, f => Assert.True(f.Stale, f.Flag));
        Assert.All((await delivery.FlagUsageAsync(app, "DEV", "flags", staleDays: 10)).Flags, f => Assert.False(f.Stale, f.Flag));
        await delivery.ReportAsync(app, "DEV", "flags", "pod-3", [], release.Id, DeliveryStatus.Applied, null, null, [new("a", "on", 1, 1)]);
        var later = await delivery.FlagUsageAsync(app, "DEV", "flags");
        Assert.False(later.Flags[0].Stale);
        Assert.True(later.Flags[1].Stale);

        // Bounded and checked input; insight only for flags namespaces.
        var tooMany = Enumerable.Range(0, DeliveryService.MaxFlagEvaluationEntries + 1).Select(i => new FlagEvaluationCount($"f{i}", "on", 1, 1)).ToList();
        Assert.Equal(ConfigErrorKind.InvalidArgument, (await Assert.ThrowsAsync<ConfigCenterException>(() =>
            delivery.ReportAsync(app, "DEV", "flags", "pod-1", [], release.Id, DeliveryStatus.Applied, null, null, tooMany).AsTask())).Kind);
        Assert.Equal(ConfigErrorKind.InvalidArgument, (await Assert.ThrowsAsync<ConfigCenterException>(() =>
            delivery.ReportAsync(app, "DEV", "flags", "pod-1", [], release.Id, DeliveryStatus.Applied, null, null, [new("a", "on", 1, 2)]).AsTask())).Kind);

        // The largest report accepted keeps at most MaxFlagEvaluationNameChars of names in the instance's record,
        // the entries sent first (the most used).
        var widest = Enumerable.Range(0, DeliveryService.MaxFlagEvaluationEntries)
            .Select(i => new FlagEvaluationCount($"f{i:D4}" + new string('x', 123), "v" + new string('y', 63), 1, 1)).ToList();
        var kept = await delivery.ReportAsync(app, "DEV", "flags", "pod-wide", [], release.Id, DeliveryStatus.Applied, null, null, widest);
        Assert.InRange(kept.FlagEvaluations!.Sum(e => e.Flag.Length + e.Variant.Length), DeliveryService.MaxFlagEvaluationNameChars - 192, DeliveryService.MaxFlagEvaluationNameChars);
        Assert.Equal(widest.Take(kept.FlagEvaluations!.Count).Select(e => e.Flag), kept.FlagEvaluations!.Select(e => e.Flag));
        await center.CreateNamespaceAsync(app, "DEV", "settings", NamespaceFormat.Json, null, Alice);
        Assert.Equal(ConfigErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<ConfigCenterException>(() => delivery.FlagUsageAsync(app, "DEV", "settings").AsTask())).Kind);
        Assert.Equal(ConfigErrorKind.InvalidArgument, (await Assert.ThrowsAsync<ConfigCenterException>(() =>
            center.CreateNamespaceAsync(app, "DEV", "secret-flags", NamespaceFormat.Flags, null, false, true, Alice).AsTask())).Kind);
    }

    [Fact]
    public async Task Reports_over_http_and_grpc_carry_evaluation_counts_and_usage_is_served_over_http()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        await Center.SetContentAsync(app, "DEV", "flags", """{"flags": {"a": {"type": "boolean", "defaultVariant": "off"}}}""", 0, Alice);
        var release = await Center.PublishAsync(app, "DEV", "flags", null, null, 0, Alice);
        using var http = fixture.Node.CreateHttpClient();
        var ns = $"/api/v1/apps/{app}/envs/DEV/namespaces/flags";
        using (var report = await http.PostAsJsonAsync($"{ns}/reports", new
        {
            instanceId = "pod-http", releaseId = release.Id, status = "Applied",
            flagEvaluations = new[] { new { flag = "a", variant = "on", total = 7, recent = 7 } },
        }))
        {
            Assert.True(report.IsSuccessStatusCode, await report.Content.ReadAsStringAsync());
        }

        await using (var client = new Conclave.Client.ConclaveClient(new Conclave.Client.ConclaveClientOptions { Endpoints = [fixture.Node.Endpoint] }))
        {
            await client.ReportConfigAsync(new Conclave.Client.ConfigTarget { App = app, Environment = "DEV", Namespaces = ["flags"], InstanceId = "pod-grpc" }, "flags", release.Id, Conclave.Client.ConfigDeliveryStatus.Applied, null,
                [new Conclave.Client.FlagEvaluationCount("a", "off", 2, 1)]);
        }

        using var usage = JsonDocument.Parse(await http.GetStringAsync($"{ns}/flags/usage?staleDays=3"));
        var flag = Assert.Single(usage.RootElement.GetProperty("flags").EnumerateArray());
        Assert.Equal(3, usage.RootElement.GetProperty("staleDays").GetInt32());
        Assert.Equal("a", flag.GetProperty("flag").GetString());
        Assert.Equal(7, flag.GetProperty("variants").GetProperty("on").GetInt64());
        Assert.Equal(2, flag.GetProperty("variants").GetProperty("off").GetInt64());
        Assert.Equal(2, flag.GetProperty("instances").GetInt32());
        Assert.False(flag.GetProperty("stale").GetBoolean());

        using var bad = await http.GetAsync($"{ns}/flags/usage?staleDays=0");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("staleDays", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rollout_plan_ships_a_flags_release_to_its_cohort_by_step_and_promotes_it()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "flags", NamespaceFormat.Flags, null, Alice);
        const string v1 = """{"flags": {"ranker": {"type": "string", "variants": {"classic": "bm25"}, "defaultVariant": "classic"}}}""";
        const string v2 = """{"flags": {"ranker": {"type": "string", "variants": {"classic": "bm25", "neural": "ltr-v3"}, "defaultVariant": "neural"}}}""";
        await Center.SetContentAsync(app, "DEV", "flags", v1, 0, Alice);
        var main = await Center.PublishAsync(app, "DEV", "flags", null, null, 0, Alice);
        await Center.SetContentAsync(app, "DEV", "flags", v2, 0, Alice);
        var gray = await Center.StartRolloutAsync(app, "DEV", "flags", new GrayRule(), new RolloutSpec([new RolloutStep(20, 600), new RolloutStep(100, 1)]), "neural ranker", null, 0, Alice);

        // Step 1: exactly the 20% cohort of the gray hash evaluates the new flags; the others keep the main release.
        var inCohort = 0;
        for (var i = 0; i < 200; i++)
        {
            var id = $"pod-{i}";
            var served = (await fixture.Delivery.FetchAsync(app, "DEV", "flags", id, [])).Release;
            var expected = Gray.GrayCohort.InPercentage(app, "flags", id, 20);
            Assert.Equal(expected ? gray.Id : main.Id, served.Id);
            Assert.Equal(expected ? "ltr-v3" : "bm25", FlagReader.GetString(FlagSet.Parse(served.Content), "ranker", "", new FlagContext { InstanceId = id }).Value);
            inCohort += expected ? 1 : 0;
        }

        Assert.InRange(inCohort, 20, 60);

        // Step 2 (100%) now, then the plan completes after its bake and the flags release becomes the main release.
        await Center.SkipRolloutAsync(app, "DEV", "flags", 2, 0, Alice);
        await Eventually.WaitAsync(
            async ct => (await Center.GetNamespaceAsync(app, "DEV", "flags", ct)) is { Rollout.Status: RolloutStatus.Completed, HeadReleaseId: var head } && head == gray.Id,
            TimeSpan.FromSeconds(30),
            "the plan to complete and promote the flags release");
        Assert.Equal(v2, (await fixture.Delivery.FetchAsync(app, "DEV", "flags", "pod-1", [])).Release.Content);
    }
}

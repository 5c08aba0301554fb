using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

public sealed class ReleaseFlowTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    private DeliveryService Delivery => fixture.Delivery;

    private static ChangeContext Alice => NodeFixture.Alice;

    [Fact]
    public async Task Edit_publish_fetch_diff_rollback_history_audit()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080", "http port"), 0, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("host", "a.example"), 0, Alice);

        // Edits are not visible to clients before a publish.
        var none = await Assert.ThrowsAsync<ConfigCenterException>(() => Delivery.FetchAsync(app, "DEV", "application", "i-1", []).AsTask());
        Assert.Equal(ConfigErrorKind.NoRelease, none.Kind);

        var r1 = await Center.PublishAsync(app, "DEV", "application", "first", "go", 0, Alice);
        Assert.Equal(1, r1.Id);
        Assert.Equal(ConfigCenterService.Hash(r1.Content), r1.ContentHash);
        Assert.Equal("8080", r1.Configurations["port"]);
        Assert.Empty(await Center.DiffWorkingCopyAsync(app, "DEV", "application"));

        var fetched = await Delivery.FetchAsync(app, "DEV", "application", "i-1", []);
        Assert.Equal(1, fetched.Release.Id);
        Assert.False(fetched.IsGray);

        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "9090"), 0, Alice);
        await Center.DeleteItemAsync(app, "DEV", "application", "host", 0, Alice);
        Assert.Equal(
            [new DiffEntry("host", DiffChange.Removed, "a.example", null), new DiffEntry("port", DiffChange.Changed, "8080", "9090")],
            await Center.DiffWorkingCopyAsync(app, "DEV", "application"));
        var r2 = await Center.PublishAsync(app, "DEV", "application", "second", null, 0, Alice);
        Assert.Equal(2, r2.Id);
        Assert.Equal(2, (await Center.DiffReleasesAsync(app, "DEV", "application", 1, 2)).Count);

        var r3 = await Center.RollbackAsync(app, "DEV", "application", 1, "bad port", 0, Alice);
        Assert.Equal(3, r3.Id);
        Assert.Equal(ReleaseKind.Rollback, r3.Kind);
        Assert.Equal(1, r3.RollbackOf);
        Assert.Equal(r1.Content, r3.Content);
        Assert.Equal(r1.ContentHash, r3.ContentHash);
        Assert.Equal("8080", (await Delivery.FetchAsync(app, "DEV", "application", "i-1", [])).Release.Configurations["port"]);

        var history = await Center.HistoryAsync(app, "DEV", "application");
        Assert.Equal(["rollback", "publish", "publish"], history.Select(h => h.Operation));
        Assert.All(history, h => Assert.Equal("alice", h.Author));
        Assert.Equal([3L, 2L, 1L], (await Center.ListReleasesAsync(app, "DEV", "application")).Select(r => r.Id));

        var audit = await Center.AuditAsync(app);
        Assert.Contains(audit, a => a.Action == "release.rollback" && a.Author == "alice" && a.From == "test");
        Assert.Contains(audit, a => a.Action == "item.delete" && a.Detail == "host | host: a.example -> (none)");
        Assert.Equal(10, audit.Count); // app, env, namespace, 2 sets, publish, set, delete, publish, rollback
    }

    [Fact]
    public async Task Json_and_yaml_namespaces_and_diff_between_environments()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateEnvironmentAsync(app, "PRO", Alice);
        foreach (var env in new[] { "DEV", "PRO" })
        {
            await Center.CreateNamespaceAsync(app, env, "db.yaml", NamespaceFormat.Yaml, """{"type":"object","required":["pool"]}""", Alice);
        }

        await Center.SetContentAsync(app, "DEV", "db.yaml", "pool: 10\n", 0, Alice);
        await Center.SetContentAsync(app, "PRO", "db.yaml", "pool: 50\n", 0, Alice);
        await Center.PublishAsync(app, "DEV", "db.yaml", null, null, 0, Alice);
        await Center.PublishAsync(app, "PRO", "db.yaml", null, null, 0, Alice);
        var diff = Assert.Single(await Center.DiffEnvironmentsAsync(app, "DEV", "PRO", "db.yaml"));
        Assert.Equal(DiffChange.Changed, diff.Change);
        Assert.Equal("pool: 50\n", diff.NewValue);
    }

    [Fact]
    public async Task Subscribe_streams_changes_and_resumes_from_the_last_seen_release()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "feature.json", NamespaceFormat.Json, null, Alice);
        await Center.SetContentAsync(app, "DEV", "feature.json", """{"on": false}""", 0, Alice);
        await Center.PublishAsync(app, "DEV", "feature.json", null, null, 0, Alice);

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using (var stream = Delivery.SubscribeAsync(app, "DEV", ["feature.json"], "i-1", [], new Dictionary<string, long>(), cts.Token).GetAsyncEnumerator(cts.Token))
        {
            Assert.True(await stream.MoveNextAsync());
            Assert.Equal(1, stream.Current.Release.Id);

            await Center.SetContentAsync(app, "DEV", "feature.json", """{"on": true}""", 0, Alice);
            var next = stream.MoveNextAsync();
            await Center.PublishAsync(app, "DEV", "feature.json", null, null, 0, Alice);
            Assert.True(await next);
            Assert.Equal(2, stream.Current.Release.Id);
            Assert.Equal("""{"on": true}""", stream.Current.Release.Content);

            var rollback = stream.MoveNextAsync();
            await Center.RollbackAsync(app, "DEV", "feature.json", 1, null, 0, Alice);
            Assert.True(await rollback);
            Assert.Equal(3, stream.Current.Release.Id);
            Assert.Equal("""{"on": false}""", stream.Current.Release.Content);
        }

        // While disconnected, release 4 is published: a client that saw 3 gets 4 at once on resuming.
        await Center.PublishAsync(app, "DEV", "feature.json", null, null, 0, Alice);
        await using (var resumed = Delivery.SubscribeAsync(app, "DEV", ["feature.json"], "i-1", [], new Dictionary<string, long> { ["feature.json"] = 3 }, cts.Token).GetAsyncEnumerator(cts.Token))
        {
            Assert.True(await resumed.MoveNextAsync());
            Assert.Equal(4, resumed.Current.Release.Id);
        }

        // A client already on the latest release is sent nothing until the next change.
        await using (var current = Delivery.SubscribeAsync(app, "DEV", ["feature.json"], "i-1", [], new Dictionary<string, long> { ["feature.json"] = 4 }, cts.Token).GetAsyncEnumerator(cts.Token))
        {
            var first = current.MoveNextAsync();
            await Center.PublishAsync(app, "DEV", "feature.json", null, null, 0, Alice);
            Assert.True(await first);
            Assert.Equal(5, current.Current.Release.Id);
        }
    }

    [Fact]
    public async Task Gray_by_percentage_is_sticky_and_monotonic_then_promote_and_abandon()
    {
        var app = await fixture.NewAppAsync();
        const string ns = "application";
        await Center.CreateNamespaceAsync(app, "DEV", ns, NamespaceFormat.Properties, null, Alice);
        await Center.SetItemAsync(app, "DEV", ns, new ConfigItem("color", "blue"), 0, Alice);
        var main = await Center.PublishAsync(app, "DEV", ns, null, null, 0, Alice);
        await Center.SetItemAsync(app, "DEV", ns, new ConfigItem("color", "green"), 0, Alice);
        var gray = await Center.GrayPublishAsync(app, "DEV", ns, new GrayRule { Percentage = 10 }, "green for some", null, 0, Alice);
        Assert.Equal(ReleaseKind.Gray, gray.Kind);

        var ids = Enumerable.Range(0, 1000).Select(i => $"pod-{i:D4}").ToArray();
        async Task<HashSet<string>> GrayCohortAsync()
        {
            var cohort = new HashSet<string>();
            foreach (var id in ids)
            {
                var e = await Delivery.FetchAsync(app, "DEV", ns, id, []);
                Assert.Equal(e.IsGray ? gray.Id : main.Id, e.Release.Id);
                if (e.IsGray)
                {
                    cohort.Add(id);
                }
            }

            return cohort;
        }

        var ten = await GrayCohortAsync();
        Assert.InRange(ten.Count, 60, 140);
        Assert.Equal(ten, await GrayCohortAsync()); // sticky

        await Center.UpdateGrayRuleAsync(app, "DEV", ns, new GrayRule { Percentage = 20 }, 0, Alice);
        var twenty = await GrayCohortAsync();
        Assert.InRange(twenty.Count, 150, 250);
        Assert.Superset(ten, twenty); // monotonic: the first 10% stay in

        await Center.PromoteGrayAsync(app, "DEV", ns, 0, Alice);
        foreach (var id in ids.Take(50))
        {
            var e = await Delivery.FetchAsync(app, "DEV", ns, id, []);
            Assert.Equal(gray.Id, e.Release.Id);
            Assert.False(e.IsGray);
        }

        // Abandon: gray instances go back to the main release.
        await Center.SetItemAsync(app, "DEV", ns, new ConfigItem("color", "red"), 0, Alice);
        var red = await Center.GrayPublishAsync(app, "DEV", ns, new GrayRule { InstanceIds = ["pod-0001"], Labels = ["zone=eu1"] }, null, null, 0, Alice);
        Assert.Equal(red.Id, (await Delivery.FetchAsync(app, "DEV", ns, "pod-0001", [])).Release.Id);
        Assert.Equal(red.Id, (await Delivery.FetchAsync(app, "DEV", ns, "pod-0002", ["zone=eu1"])).Release.Id);
        Assert.Equal(gray.Id, (await Delivery.FetchAsync(app, "DEV", ns, "pod-0003", ["zone=us1"])).Release.Id);
        await Center.AbandonGrayAsync(app, "DEV", ns, 0, Alice);
        Assert.Equal(gray.Id, (await Delivery.FetchAsync(app, "DEV", ns, "pod-0001", [])).Release.Id);
        Assert.Equal(
            ["gray-abandon", "gray-publish", "gray-promote", "gray-rule", "gray-publish", "publish"],
            (await Center.HistoryAsync(app, "DEV", ns)).Select(h => h.Operation));
    }

    [Fact]
    public async Task Reports_answer_the_convergence_query()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Text, null, Alice);
        await Center.SetContentAsync(app, "DEV", "application", "v1", 0, Alice);
        var r1 = await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);
        await Center.SetContentAsync(app, "DEV", "application", "v2", 0, Alice);
        var r2 = await Center.PublishAsync(app, "DEV", "application", null, null, 0, Alice);

        for (var i = 0; i < 10; i++)
        {
            await Delivery.ReportAsync(app, "DEV", "application", $"i-{i}", ["zone=eu1"], r2.Id, DeliveryStatus.Applied, null, "10.0.0.1");
        }

        await Delivery.ReportAsync(app, "DEV", "application", "i-10", [], r1.Id, DeliveryStatus.Applied, null, null);
        await Delivery.ReportAsync(app, "DEV", "application", "i-11", [], r2.Id, DeliveryStatus.Rejected, "parse error: missing key", null);
        // A second report replaces the first, keeping its lease.
        var again = await Delivery.ReportAsync(app, "DEV", "application", "i-0", ["zone=eu1"], r2.Id, DeliveryStatus.Applied, null, null);
        Assert.True(again.LeaseId > 0);

        var c = await Delivery.ConvergenceAsync(app, "DEV", "application");
        Assert.Equal(r2.Id, c.ReleaseId);
        Assert.Equal(12, c.Instances);
        Assert.Equal(10, c.Applied);
        Assert.Equal(1, c.ByRelease[r1.Id]);
        var rejected = Assert.Single(c.Rejected);
        Assert.Equal("i-11", rejected.InstanceId);
        Assert.Equal("parse error: missing key", rejected.Reason);
        Assert.Equal(12, (await Delivery.InstancesAsync(app, "DEV", "application")).Count);
    }
}

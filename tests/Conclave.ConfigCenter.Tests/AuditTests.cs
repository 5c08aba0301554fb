using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// The audit as people rely on it (issue 21, item 5): an edit's entry says what changed from what to what, with secret
/// values masked; the request id travels with it; entries older than the retention are dropped, newer ones kept,
/// across apps, and nothing is dropped while no retention is set.
/// </summary>
public sealed class AuditTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private ConfigCenterService Center => fixture.Center;

    [Fact]
    public async Task An_edit_is_audited_with_its_old_and_new_values_and_its_request_id()
    {
        var app = await fixture.NewAppAsync();
        var who = new ChangeContext("alice", "10.0.0.7:5000") { RequestId = "req-42" };
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, who);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "8080"), 0, who);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("port", "9090"), 0, who);
        await Center.SetContentAsync(app, "DEV", "application", "port=9090\nhost=a.example\n", 0, who);
        await Center.DeleteItemAsync(app, "DEV", "application", "host", 0, who);

        var audit = (await Center.AuditAsync(app, 10)).Where(e => e.Action is "item.set" or "content.set" or "item.delete").Reverse().ToList();
        Assert.Equal(
            ["port | port: (none) -> 8080", "port | port: 8080 -> 9090", "25 bytes | host: (none) -> a.example", "host | host: a.example -> (none)"],
            audit.Select(e => e.Detail));
        Assert.All(audit, e => Assert.Equal(("alice", "10.0.0.7:5000", "req-42"), (e.Author, e.From, e.RequestId)));

        await Center.CreateNamespaceAsync(app, "DEV", "doc", NamespaceFormat.Json, null, who);
        await Center.SetContentAsync(app, "DEV", "doc", "{\"a\":1}", 0, who);
        Assert.StartsWith("7 bytes | document 0 -> 7 bytes, sha256 ", (await Center.AuditAsync(app, 1))[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Entries_older_than_the_retention_are_dropped_and_newer_ones_kept()
    {
        var clock = new FixedClock(DateTimeOffset.UtcNow.AddDays(-40));
        var node = fixture.Node.Server.Node;
        var port = new LocalKeyValuePort(node, new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance));
        var then = new ConfigCenterService(port, clock: clock);
        var retention = new AuditRetention(port);
        var app = "aud-" + Guid.NewGuid().ToString("N")[..10];
        await then.CreateAppAsync(app, null, "team", NodeFixture.Alice);
        await then.CreateEnvironmentAsync(app, "OLD", NodeFixture.Alice);
        await Center.CreateEnvironmentAsync(app, "NEW", NodeFixture.Alice);
        Assert.Equal(3, (await Center.AuditAsync(app, 100)).Count);

        // No retention set: nothing goes.
        Assert.Equal(0, await retention.PruneAsync());
        Assert.Equal(3, (await Center.AuditAsync(app, 100)).Count);

        await Center.Access.SetSettingsAsync(NodeFixture.Alice, new ConfigSettings { AuditRetentionDays = 30 }, default);
        try
        {
            Assert.True(await retention.PruneAsync() >= 2);
            var left = await Center.AuditAsync(app, 100);
            Assert.Equal(["env.create"], left.Select(e => e.Action));
        }
        finally
        {
            await Center.Access.SetSettingsAsync(NodeFixture.Alice, new ConfigSettings(), default);
        }

        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.Access.SetSettingsAsync(NodeFixture.Alice, new ConfigSettings { AuditRetentionDays = -1 }, default).AsTask());
        Assert.Equal(ConfigErrorKind.InvalidArgument, refused.Kind);
    }

    /// <summary>A clock stopped at one moment: the center writes its audit entries as of then.</summary>
    private sealed class FixedClock(DateTimeOffset at) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => at;
    }
}

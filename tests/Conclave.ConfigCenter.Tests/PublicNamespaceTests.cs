using Conclave.Api.Config.V1;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Grpc.Core;

namespace Conclave.ConfigCenter.Tests;

/// <summary>Public namespaces associated by other apps, with overrides resolved for Fetch and Subscribe (as Apollo).</summary>
public sealed class PublicNamespaceTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly ChangeContext Alice = NodeFixture.Alice;

    private PublicNamespaceService Public() => new(Port());

    private LocalKeyValuePort Port() => fixture.NewPort();

    [Fact]
    public async Task Association_overrides_keys_and_follows_base_releases_live()
    {
        var common = await fixture.NewAppAsync();
        var service = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(common, "DEV", "shared", NamespaceFormat.Properties, null, isPublic: true, Alice);
        await fixture.Center.SetContentAsync(common, "DEV", "shared", "a=1\nb=2\n", 0, Alice);
        await fixture.Center.PublishAsync(common, "DEV", "shared", "base 1", null, 0, Alice);

        var association = await Public().AssociateNamespaceAsync(service, "DEV", "shared", common, Alice);
        Assert.Equal(common, association.BaseApp);
        Assert.Equal(NamespaceFormat.Properties, association.Format);

        // Nothing overridden yet: the base as it is, under the association's name and a combined id.
        var plain = await fixture.Delivery.FetchAsync(service, "DEV", "shared", "pod-1", []);
        Assert.Equal(AssociatedRelease.Id(1, 0), plain.Release.Id);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, plain.Release.Configurations);

        await fixture.Center.SetItemAsync(service, "DEV", "shared", new ConfigItem("b", "20"), 0, Alice);
        await fixture.Center.SetItemAsync(service, "DEV", "shared", new ConfigItem("c", "30"), 0, Alice);
        await fixture.Center.PublishAsync(service, "DEV", "shared", "overrides", null, 0, Alice);
        var merged = await fixture.Delivery.FetchAsync(service, "DEV", "shared", "pod-1", []);
        Assert.Equal(AssociatedRelease.Id(1, 1), merged.Release.Id);
        Assert.Equal("a=1\nb=20\nc=30\n", merged.Release.Content);
        Assert.Equal(ConfigCenterService.Hash(merged.Release.Content), merged.Release.ContentHash);

        // The base app's own clients are unaffected by the overrides.
        Assert.Equal("2", (await fixture.Delivery.FetchAsync(common, "DEV", "shared", "pod-1", [])).Release.Configurations["b"]);

        // A base release reaches the association's subscribers, overrides still applied.
        using var channel = fixture.Node.CreateChannel();
        var client = new ConfigService.ConfigServiceClient(channel);
        using var cts = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var call = client.Subscribe(new SubscribeRequest
        {
            App = service, Env = "DEV", Namespaces = { "shared" }, Instance = new InstanceIdentity { InstanceId = "pod-1" },
            LastSeen = { ["shared"] = AssociatedRelease.Id(1, 1) },
        }, cancellationToken: cts.Token);
        await fixture.Center.SetItemAsync(common, "DEV", "shared", new ConfigItem("a", "100"), 0, Alice);
        await fixture.Center.PublishAsync(common, "DEV", "shared", "base 2", null, 0, Alice);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        var pushed = call.ResponseStream.Current;
        Assert.Equal(AssociatedRelease.Id(2, 1), pushed.ReleaseId);
        Assert.Equal("100", pushed.Configurations["a"]);
        Assert.Equal("20", pushed.Configurations["b"]);

        // ...and an override release too.
        await fixture.Center.SetItemAsync(service, "DEV", "shared", new ConfigItem("c", "31"), 0, Alice);
        await fixture.Center.PublishAsync(service, "DEV", "shared", "overrides 2", null, 0, Alice);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(AssociatedRelease.Id(2, 2), call.ResponseStream.Current.ReleaseId);
        Assert.Equal("31", call.ResponseStream.Current.Configurations["c"]);

        // Convergence of the association counts the combined id of both main releases.
        await fixture.Delivery.ReportAsync(service, "DEV", "shared", "pod-1", [], AssociatedRelease.Id(2, 2), Model.DeliveryStatus.Applied, null, null);
        var convergence = await fixture.Delivery.ConvergenceAsync(service, "DEV", "shared");
        Assert.Equal(AssociatedRelease.Id(2, 2), convergence.ReleaseId);
        Assert.Equal(1, convergence.Applied);
    }

    [Fact]
    public async Task Only_public_namespaces_associate_and_an_associated_base_cannot_be_deleted()
    {
        var common = await fixture.NewAppAsync();
        var service = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(common, "DEV", "private", NamespaceFormat.Properties, null, Alice);
        await fixture.Center.CreateNamespaceAsync(common, "DEV", "shared", NamespaceFormat.Json, null, isPublic: true, Alice);

        var notPublic = await Assert.ThrowsAsync<ConfigCenterException>(() => Public().AssociateNamespaceAsync(service, "DEV", "private", common, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, notPublic.Kind);
        Assert.Contains("not public", notPublic.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<ConfigCenterException>(() => Public().AssociateNamespaceAsync(service, "DEV", "nope", common, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.NotFound, missing.Kind);

        await Public().AssociateNamespaceAsync(service, "DEV", "shared", common, Alice);
        var twice = await Assert.ThrowsAsync<ConfigCenterException>(() => Public().AssociateNamespaceAsync(service, "DEV", "shared", common, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.AlreadyExists, twice.Kind);
        Assert.Equal([service], (await Public().AssociationsAsync(common, "DEV", "shared")).Select(n => n.App));

        // json: the association's own document, once released, replaces the base's.
        await fixture.Center.SetContentAsync(common, "DEV", "shared", """{"a":1}""", 0, Alice);
        await fixture.Center.PublishAsync(common, "DEV", "shared", "base", null, 0, Alice);
        Assert.Equal("""{"a":1}""", (await fixture.Delivery.FetchAsync(service, "DEV", "shared", null, [])).Release.Content);
        await fixture.Center.SetContentAsync(service, "DEV", "shared", """{"a":2}""", 0, Alice);
        await fixture.Center.PublishAsync(service, "DEV", "shared", "own", null, 0, Alice);
        Assert.Equal("""{"a":2}""", (await fixture.Delivery.FetchAsync(service, "DEV", "shared", null, [])).Release.Content);

        var removal = new ConfigRemovalService(Port());
        var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => removal.DeleteNamespaceAsync(common, "DEV", "shared", force: true, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, refused.Kind);
        Assert.Contains($"associated by {service}", refused.Message, StringComparison.Ordinal);
        await removal.DeleteNamespaceAsync(service, "DEV", "shared", force: false, Alice);
        await removal.DeleteNamespaceAsync(common, "DEV", "shared", force: false, Alice);
    }
}

using Conclave.Api.Config.V1;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// An instance's delivery record lives while the instance is subscribed (the server renews its lease for the
/// stream's life) and disappears one lease lifetime after the instance goes away. Real time with a 3 s lease (renewed every second): the
/// test waits for observed states only, using an unsubscribed instance's record expiring as proof that a lease
/// lifetime has passed.
/// </summary>
public sealed class InstanceLeaseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() =>
        node = await TestNode.StartInProcessAsync(output, o => o with { ConfigLimits = new ConfigLimits { InstanceLeaseSeconds = 3 } });

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Subscribed_instance_stays_listed_and_vanishes_after_it_disconnects()
    {
        var port = new LocalKeyValuePort(node.Server.Node, new LeaseKeeper(node.Server.Node, NullLogger<LeaseKeeper>.Instance));
        var center = new ConfigCenterService(port);
        var who = new ChangeContext("alice");
        await center.CreateAppAsync("leased", null, null, who);
        await center.CreateEnvironmentAsync("leased", "DEV", who);
        await center.CreateNamespaceAsync("leased", "DEV", "application", NamespaceFormat.Properties, null, who);
        await center.SetItemAsync("leased", "DEV", "application", new ConfigItem("k", "v"), 0, who);
        await center.PublishAsync("leased", "DEV", "application", "r1", null, 0, who);

        using var channel = node.CreateChannel();
        var client = new ConfigService.ConfigServiceClient(channel);
        using var subscription = new CancellationTokenSource();
        var subscribed = new InstanceIdentity { InstanceId = "pod-subscribed" };
        using var call = client.Subscribe(new SubscribeRequest { App = "leased", Env = "DEV", Namespaces = { "application" }, Instance = subscribed }, cancellationToken: subscription.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        await client.ReportAsync(new ReportRequest { App = "leased", Env = "DEV", Namespace = "application", Instance = subscribed, ReleaseId = 1 });
        // Reported after the subscribed one, so its lease would outlive the subscribed one's if nobody renewed it.
        await client.ReportAsync(new ReportRequest { App = "leased", Env = "DEV", Namespace = "application", Instance = new InstanceIdentity { InstanceId = "pod-gone" }, ReleaseId = 1 });

        var delivery = new DeliveryService(port);
        async Task<HashSet<string>> ListedAsync(CancellationToken ct) =>
            (await delivery.InstancesAsync("leased", "DEV", "application", ct)).Select(i => i.InstanceId).ToHashSet();

        await Eventually.WaitAsync(async ct => !(await ListedAsync(ct)).Contains("pod-gone"), Eventually.DefaultTimeout, "the unrenewed instance record expires");
        Assert.Contains("pod-subscribed", await ListedAsync(CancellationToken.None));

        await subscription.CancelAsync();
        await Eventually.WaitAsync(async ct => !(await ListedAsync(ct)).Contains("pod-subscribed"), Eventually.DefaultTimeout, "the record expires once the instance disconnected");
    }
}

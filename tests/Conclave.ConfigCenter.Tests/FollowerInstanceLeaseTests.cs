using Conclave.Api.Config.V1;
using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// <see cref="InstanceLeaseTests"/> on a 3-member cluster with the instance homed on a follower: the follower renews
/// the delivery record's lease through the leader (which owns lease expiry), so the record stays listed for as long
/// as the instance is subscribed, and the instance's later reports, which renew the same lease, land. Real time with
/// a 3 s lease; each "lease lifetime has passed" is proven by a record nobody renews expiring.
/// </summary>
public sealed class FollowerInstanceLeaseTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int LeasePeriods = 3;
    private TestCluster cluster = null!;

    public async Task InitializeAsync() =>
        cluster = await TestCluster.StartAsync(3, output, o => o with { ConfigLimits = new ConfigLimits { InstanceLeaseSeconds = 3 } });

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task An_instance_subscribed_through_a_follower_stays_listed_past_several_lease_periods_and_its_reports_land()
    {
        var follower = await cluster.FollowerAsync();
        var node = cluster[follower].Node;
        var port = new LocalKeyValuePort(node, new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance));
        var center = new ConfigCenterService(port);
        var delivery = new DeliveryService(port);
        var who = new ChangeContext("alice");
        await center.CreateAppAsync("leased", null, null, who);
        await center.CreateEnvironmentAsync("leased", "DEV", who);
        await center.CreateNamespaceAsync("leased", "DEV", "application", NamespaceFormat.Properties, null, who);
        await center.SetItemAsync("leased", "DEV", "application", new ConfigItem("k", "v1"), 0, who);
        await center.PublishAsync("leased", "DEV", "application", "r1", null, 0, who);

        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[follower]);
        var client = new ConfigService.ConfigServiceClient(channel);
        using var subscription = new CancellationTokenSource();
        var subscribed = new InstanceIdentity { InstanceId = "pod-on-follower" };
        using var call = client.Subscribe(new SubscribeRequest { App = "leased", Env = "DEV", Namespaces = { "application" }, Instance = subscribed }, cancellationToken: subscription.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var first = call.ResponseStream.Current.ReleaseId;
        await client.ReportAsync(new ReportRequest { App = "leased", Env = "DEV", Namespace = "application", Instance = subscribed, ReleaseId = first });

        async Task<Dictionary<string, InstanceRecord>> ListedAsync(CancellationToken ct) =>
            (await delivery.InstancesAsync("leased", "DEV", "application", ct)).ToDictionary(i => i.InstanceId);

        for (var period = 1; period <= LeasePeriods; period++)
        {
            // Reported after the subscribed instance's last renewal could have happened: once this unrenewed record is
            // gone, a whole lease lifetime has passed in which only the follower's renewals kept the subscribed one.
            var witness = $"pod-gone-{period}";
            await client.ReportAsync(new ReportRequest { App = "leased", Env = "DEV", Namespace = "application", Instance = new InstanceIdentity { InstanceId = witness }, ReleaseId = first });
            await Eventually.WaitAsync(async ct => !(await ListedAsync(ct)).ContainsKey(witness), Eventually.DefaultTimeout, $"the unrenewed record {witness} expires");
            Assert.True((await ListedAsync(CancellationToken.None)).ContainsKey("pod-on-follower"), $"the subscribed instance's record is still listed after lease period {period}");
        }

        // A new release reaches the instance through the follower; its report renews the lease it already holds.
        await center.SetItemAsync("leased", "DEV", "application", new ConfigItem("k", "v2"), 0, who);
        await center.PublishAsync("leased", "DEV", "application", "r2", null, 0, who);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var second = call.ResponseStream.Current.ReleaseId;
        Assert.NotEqual(first, second);
        var report = await client.ReportAsync(new ReportRequest { App = "leased", Env = "DEV", Namespace = "application", Instance = subscribed, ReleaseId = second });
        var listed = (await ListedAsync(CancellationToken.None))["pod-on-follower"];
        Assert.Equal(second, listed.ReleaseId);
        Assert.Equal(report.LeaseId, listed.LeaseId);

        await subscription.CancelAsync();
        await Eventually.WaitAsync(async ct => !(await ListedAsync(ct)).ContainsKey("pod-on-follower"), Eventually.DefaultTimeout, "the record expires once the instance disconnected");
    }
}

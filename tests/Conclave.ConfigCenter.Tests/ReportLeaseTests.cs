using Conclave.Api.Config.V1;
using Conclave.Api.Etcd;
using Grpc.Core;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// A delivery report for a namespace that does not exist is refused without leaving a lease behind (each such
/// report used to grant a 60 s lease first: a flood of them filled the member's lease table).
/// </summary>
public sealed class ReportLeaseTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    // Every lease of the member, the center's included (they are the system keyspace's: etcd's list shows users' only).
    private Task<int> LeaseCountAsync(Lease.LeaseClient leases) => Task.FromResult(fixture.Node.Server.Node.Store.LeaseCount);

    [Fact]
    public async Task Report_for_a_missing_namespace_grants_no_lease_over_grpc_http_and_the_service()
    {
        var app = await fixture.NewAppAsync();
        using var channel = fixture.Node.CreateChannel();
        using var http = fixture.Node.CreateHttpClient();
        var leases = new Lease.LeaseClient(channel);
        var before = await LeaseCountAsync(leases);

        var grpc = await Assert.ThrowsAsync<RpcException>(async () => await new ConfigService.ConfigServiceClient(channel).ReportAsync(new ReportRequest
        {
            App = app, Env = "DEV", Namespace = "missing", Instance = new InstanceIdentity { InstanceId = "pod-1" }, ReleaseId = 1,
        }));
        using var posted = await http.PostAsync(
            new Uri($"/api/v1/apps/{app}/envs/DEV/namespaces/missing/reports", UriKind.Relative),
            new StringContent("""{"instanceId":"pod-2","releaseId":1}""", System.Text.Encoding.UTF8, "application/json"));
        var direct = await Assert.ThrowsAsync<ConfigCenterException>(async () =>
            await fixture.Delivery.ReportAsync(app, "DEV", "missing", "pod-3", [], 1, Model.DeliveryStatus.Applied, null, null));
        await Assert.ThrowsAsync<ConfigCenterException>(async () =>
            await fixture.Delivery.ReportAsync("no-such-app", "DEV", "missing", "pod-4", [], 1, Model.DeliveryStatus.Applied, null, null));

        Assert.Equal(StatusCode.NotFound, grpc.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, posted.StatusCode);
        Assert.Equal(ConfigErrorKind.NotFound, direct.Kind);
        Assert.Equal(before, await LeaseCountAsync(leases));
    }

    [Fact]
    public async Task Report_for_an_existing_namespace_still_grants_one_lease_and_reuses_it()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "application", Model.NamespaceFormat.Properties, null, NodeFixture.Alice);
        using var channel = fixture.Node.CreateChannel();
        var leases = new Lease.LeaseClient(channel);
        var before = await LeaseCountAsync(leases);

        var first = await fixture.Delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 1, Model.DeliveryStatus.Applied, null, null);
        var second = await fixture.Delivery.ReportAsync(app, "DEV", "application", "pod-1", [], 2, Model.DeliveryStatus.Applied, null, null);

        Assert.True(first.LeaseId > 0);
        Assert.Equal(first.LeaseId, second.LeaseId);
        Assert.Equal(before + 1, await LeaseCountAsync(leases));
        Assert.DoesNotContain(first.LeaseId, (await leases.LeaseLeasesAsync(new LeaseLeasesRequest())).Leases.Select(l => l.ID));
    }
}

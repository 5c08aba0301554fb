using Conclave.Api.Etcd;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Cluster;

/// <summary>What etcd tools see of a 3-member cluster: every member with its client URLs, one leader.</summary>
public sealed class MemberViewTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster cluster = null!;

    public async Task InitializeAsync() => cluster = await TestCluster.StartAsync(3, output);

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task Etcdctl_member_list_on_any_member_shows_all_members_with_their_client_urls()
    {
        for (var i = 0; i < cluster.Count; i++)
        {
            var result = (await Etcdctl.RunAsync(cluster.Endpoints[i].Replace("http://", ""), "member", "list", "-w", "simple")).EnsureSuccess();
            Assert.Equal(3, result.Lines.Count);
            foreach (var endpoint in cluster.Endpoints)
            {
                Assert.Contains(result.Lines, l => l.Contains(endpoint, StringComparison.Ordinal));
            }

            Assert.All(result.Lines, l => Assert.Contains(", started, m", l, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Every_member_reports_the_same_leader_and_term_and_the_leader_is_one_of_them()
    {
        var statuses = new List<StatusResponse>();
        foreach (var endpoint in cluster.Endpoints)
        {
            using var channel = GrpcChannel.ForAddress(endpoint);
            statuses.Add(await new Maintenance.MaintenanceClient(channel).StatusAsync(new StatusRequest()));
        }

        Assert.Single(statuses.Select(s => s.Leader).Distinct());
        Assert.Single(statuses.Select(s => s.RaftTerm).Distinct());
        Assert.Contains(statuses, s => s.Header.MemberId == s.Leader);
        Assert.Equal(3, statuses.Select(s => s.Header.MemberId).Distinct().Count());
    }
}

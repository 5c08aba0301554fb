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
    public async Task Etcdctl_member_list_on_any_member_shows_all_members_with_their_client_urls_as_advertised()
    {
        for (var i = 0; i < cluster.Count; i++)
        {
            var result = (await Etcdctl.RunAsync(cluster.Endpoints[i].Replace("http://", ""), "member", "list", "-w", "simple")).EnsureSuccess();
            Assert.Equal(3, result.Lines.Count);
            foreach (var endpoint in cluster.Endpoints)
            {
                // etcd lists client URLs with their scheme; etcdctl's per-endpoint commands then dial them as given.
                Assert.StartsWith("http://", endpoint, StringComparison.Ordinal);
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

    [Fact]
    public async Task Etcdctl_endpoint_status_cluster_shows_every_member_with_one_leader_and_one_term()
    {
        // Right after start a member may not have heard from the leader yet: wait until all report the same view.
        List<System.Text.Json.JsonElement> statuses = [];
        await Eventually.WaitAsync(
            async _ =>
            {
                var result = (await Etcdctl.RunAsync(cluster.Endpoints[0].Replace("http://", ""), "endpoint", "status", "--cluster", "-w", "json")).EnsureSuccess();
                statuses = [.. System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray().Select(static e => e.GetProperty("Status").Clone())];
                return statuses.Count == 3
                    && statuses.Select(static s => s.GetProperty("leader").GetUInt64()).Distinct().Count() == 1
                    && statuses.All(static s => s.TryGetProperty("raftAppliedIndex", out var applied) && applied.GetUInt64() > 0);
            },
            TimeSpan.FromSeconds(20),
            "etcdctl endpoint status --cluster to list 3 members that agree on the leader");

        Assert.Single(statuses.Select(static s => s.GetProperty("raftTerm").GetUInt64()).Distinct());
        Assert.Equal(3, statuses.Select(static s => s.GetProperty("header").GetProperty("member_id").GetUInt64()).Distinct().Count());
        Assert.Contains(statuses, static s => s.GetProperty("leader").GetUInt64() == s.GetProperty("header").GetProperty("member_id").GetUInt64());
    }
}

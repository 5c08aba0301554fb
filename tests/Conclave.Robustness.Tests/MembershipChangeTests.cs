using Conclave.Api.Etcd;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Membership changes on real member processes under writes: a 4th member joins (catch-up, then the new
/// configuration), an original member is removed and exits; nothing acknowledged is lost and the remaining members
/// converge.
/// </summary>
public sealed class MembershipChangeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Adding_a_fourth_member_and_removing_one_under_writes_loses_no_acknowledged_write()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, output);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        var leader = await cluster.WaitForLeaderAsync();
        var victim = Enumerable.Range(0, 3).First(i => i != leader);
        var survivors = Enumerable.Range(0, 3).Where(i => i != victim).ToArray();
        // The writers use the members that stay, so every write can be acknowledged somewhere.
        await using var workload = new WriteWorkload([.. survivors.Select(i => cluster.Endpoints[i])], 6);
        await workload.WaitForAcksAsync(200);

        // Start the new member (it waits, unhealthy), then add it through a follower.
        var added = await cluster.StartJoiningMemberAsync(output);
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[victim]))
        {
            var response = await new Api.Etcd.Cluster.ClusterClient(channel).MemberAddAsync(new MemberAddRequest { PeerURLs = { cluster[added].PeerUrl } });
            output.WriteLine($"member add {cluster[added].PeerUrl}: id {response.Member.ID:x}, {response.Members.Count} members listed");
        }

        await cluster[added].WaitUntilHealthyAsync();
        await Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(added, ct)).RaftAppliedIndex + 100 >= (await cluster.StatusAsync(leader, ct)).RaftIndex,
            TimeSpan.FromSeconds(60),
            "the new member to catch up with the leader under writes");
        await workload.WaitForAcksAsync(workload.AckCount + 200);

        // Remove an original member, asking the new one; the removed process stops by itself.
        var victimId = (await cluster.StatusAsync(victim)).Header.MemberId;
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[added]))
        {
            var response = await new Api.Etcd.Cluster.ClusterClient(channel).MemberRemoveAsync(new MemberRemoveRequest { ID = victimId });
            Assert.Equal(3, response.Members.Count);
        }

        await Eventually.WaitAsync(
            _ => Task.FromResult(cluster[victim].HasExited),
            TimeSpan.FromSeconds(30),
            "the removed member's process to exit");
        await workload.WaitForAcksAsync(workload.AckCount + 200);
        await workload.StopAsync();

        var remaining = Enumerable.Range(0, cluster.Count).Where(i => i != victim).ToArray();
        foreach (var i in remaining)
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            var list = await new Api.Etcd.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest { Linearizable = true });
            Assert.Equal(3, list.Members.Count);
            Assert.DoesNotContain(list.Members, m => m.ID == victimId);
        }

        output.WriteLine($"{workload.AckCount} writes acknowledged, {workload.Failures} failed or unknown");
        await Convergence.AssertAsync([.. remaining.Select(i => cluster.Endpoints[i])], workload.Acknowledged, output);
    }

    [Fact]
    public async Task A_learner_follows_through_a_leader_kill_and_is_promoted_under_writes_losing_nothing()
    {
        // Small snapshots: the learner starts behind the compacted log and needs one first.
        await using var cluster = await ProcessCluster.StartAsync(3, output, ["--snapshot-count", "200"]);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        var leader = await cluster.WaitForLeaderAsync();
        await using var workload = new WriteWorkload([.. cluster.Endpoints], 6);
        await workload.WaitForAcksAsync(400);

        var learner = await cluster.StartJoiningMemberAsync(output);
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        ulong learnerId;
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[follower]))
        {
            var response = await new Api.Etcd.Cluster.ClusterClient(channel).MemberAddAsync(new MemberAddRequest { PeerURLs = { cluster[learner].PeerUrl }, IsLearner = true });
            learnerId = response.Member.ID;
            output.WriteLine($"member add --learner {cluster[learner].PeerUrl}: id {learnerId:x}");
        }

        // Healthy while it follows; it keeps up under writes without being in the quorum.
        await cluster[learner].WaitUntilHealthyAsync();
        await CatchesUpAsync(cluster, learner, leader);
        Assert.True((await cluster.StatusAsync(learner)).IsLearner);

        // The leader dies: the learner follows the next one.
        cluster[leader].Kill();
        var next = await cluster.WaitForLeaderAsync(skip: [learner]);
        await workload.WaitForAcksAsync(workload.AckCount + 300);
        await CatchesUpAsync(cluster, learner, next);
        await cluster[leader].RestartAsync();

        // Promoted under writes: a voting member.
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[follower == next ? leader : follower]))
        {
            var promoted = await new Api.Etcd.Cluster.ClusterClient(channel).MemberPromoteAsync(new MemberPromoteRequest { ID = learnerId });
            Assert.Contains(promoted.Members, m => m.ID == learnerId && !m.IsLearner);
        }

        await Eventually.WaitAsync(
            async ct => !(await cluster.StatusAsync(learner, ct)).IsLearner,
            TimeSpan.FromSeconds(30),
            "the promoted member to stop being a learner");
        await workload.WaitForAcksAsync(workload.AckCount + 300);
        await workload.StopAsync();

        foreach (var i in Enumerable.Range(0, 4))
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            var list = await new Api.Etcd.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest { Linearizable = true });
            Assert.Equal(4, list.Members.Count);
            Assert.DoesNotContain(list.Members, m => m.IsLearner);
        }

        output.WriteLine($"{workload.AckCount} writes acknowledged, {workload.Failures} failed or unknown");
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output);
    }

    private static Task CatchesUpAsync(ProcessCluster cluster, int member, int leader) =>
        Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(member, ct)).RaftAppliedIndex + 100 >= (await cluster.StatusAsync(leader, ct)).RaftIndex,
            TimeSpan.FromSeconds(60),
            $"member {member} to catch up with the leader under writes");
}

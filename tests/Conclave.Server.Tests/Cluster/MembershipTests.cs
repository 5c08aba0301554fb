using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Cluster;

/// <summary>Members added and removed at runtime, through etcd's Cluster service and etcdctl.</summary>
public sealed class MembershipTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster cluster = null!;

    public async Task InitializeAsync() => cluster = await TestCluster.StartAsync(3, output);

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task A_member_added_through_a_follower_joins_with_the_data_and_a_removed_member_stops()
    {
        using var follower = GrpcChannel.ForAddress(cluster.Endpoints[await cluster.FollowerAsync()]);
        var kv = new KV.KVClient(follower);
        for (var i = 0; i < 50; i++)
        {
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"before/{i}"), Value = ByteString.CopyFromUtf8("v") });
        }

        // etcd's order: add first (it is listed unstarted, without a name), then start the new member.
        var (index, peerUrl) = cluster.AddMemberSlot();
        var added = await new Api.Etcd.Cluster.ClusterClient(follower).MemberAddAsync(new MemberAddRequest { PeerURLs = { peerUrl } });
        Assert.Equal("", added.Member.Name);
        Assert.Contains(added.Members, m => m.ID == added.Member.ID && m.PeerURLs.Contains(peerUrl));
        Assert.Equal(4, added.Members.Count);

        await cluster.StartMemberAsync(index);
        var newMember = cluster[index].Node;
        Assert.Equal(added.Member.ID, newMember.Consensus.Status.MemberId);
        await Eventually.WaitAsync(
            _ => Task.FromResult(Enumerable.Range(0, 4).All(i => cluster[i].Node.Consensus.Status.Members.Count == 4)),
            TimeSpan.FromSeconds(30),
            "every member to have the 4-member configuration");

        // The new member has the data written before it joined and serves writes and linearizable reads.
        using var joined = GrpcChannel.ForAddress(cluster.Endpoints[index]);
        var joinedKv = new KV.KVClient(joined);
        await joinedKv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("after"), Value = ByteString.CopyFromUtf8("v") });
        var before = await joinedKv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("before/"), RangeEnd = ByteString.CopyFromUtf8("before0"), CountOnly = true });
        Assert.Equal(50, before.Count);
        var list = await new Api.Etcd.Cluster.ClusterClient(joined).MemberListAsync(new MemberListRequest());
        Assert.Equal(4, list.Members.Count);
        // It belongs to the same cluster (it took the cluster's id from the leader).
        await Eventually.WaitAsync(
            _ => Task.FromResult(newMember.Consensus.ClusterId == cluster[0].Node.Consensus.ClusterId),
            TimeSpan.FromSeconds(10),
            "the new member to take the cluster's id");
        Assert.Contains(list.Members, m => m.ID == added.Member.ID && m.Name == $"m{index + 1}" && m.ClientURLs.Contains(cluster.Endpoints[index]));

        // Remove one of the original followers, asking the new member.
        var leader = await cluster.WaitForLeaderAsync();
        var victim = Enumerable.Range(0, 3).First(i => i != leader);
        var victimId = cluster[victim].Node.Consensus.Status.MemberId;
        var removed = await new Api.Etcd.Cluster.ClusterClient(joined).MemberRemoveAsync(new MemberRemoveRequest { ID = victimId });
        Assert.Equal(3, removed.Members.Count);
        Assert.DoesNotContain(removed.Members, m => m.ID == victimId);

        // Like etcd's, the removed member stops serving.
        await cluster[victim].Stopped.WaitAsync(TimeSpan.FromSeconds(30));
        await cluster.StopMemberAsync(victim);

        await joinedKv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("after-remove"), Value = ByteString.CopyFromUtf8("v") });
        Assert.False(newMember.Consensus.Removed.IsCancellationRequested);
        foreach (var i in Enumerable.Range(0, 4).Where(i => i != victim))
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            var range = await new KV.KVClient(channel).RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("after-remove") });
            Assert.Single(range.Kvs);
            var members = await new Api.Etcd.Cluster.ClusterClient(channel).MemberListAsync(new MemberListRequest { Linearizable = true });
            Assert.Equal(3, members.Members.Count);
        }
    }

    [Fact]
    public async Task Bad_membership_requests_get_etcds_errors()
    {
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[0]);
        var client = new Api.Etcd.Cluster.ClusterClient(channel);
        var existing = cluster[0].PeerUrl;

        var duplicate = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { existing } }));
        Assert.Equal((StatusCode.FailedPrecondition, "etcdserver: Peer URLs already exists"), (duplicate.StatusCode, duplicate.Status.Detail));

        var bad = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { "not a url" } }));
        Assert.Equal((StatusCode.InvalidArgument, "etcdserver: given member URLs are invalid"), (bad.StatusCode, bad.Status.Detail));

        // A learner added but never started: listed as one; promoting it answers etcd's "not in sync"; removable.
        var learner = await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { "http://127.0.0.1:1" }, IsLearner = true });
        Assert.Contains(learner.Members, m => m.ID == learner.Member.ID && m.IsLearner);
        var twice = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { "http://127.0.0.1:1" }, IsLearner = true }));
        Assert.Equal("etcdserver: Peer URLs already exists", twice.Status.Detail);
        var notReady = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberPromoteAsync(new MemberPromoteRequest { ID = learner.Member.ID }));
        Assert.Equal((StatusCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader"), (notReady.StatusCode, notReady.Status.Detail));
        Assert.Equal(3, (await client.MemberRemoveAsync(new MemberRemoveRequest { ID = learner.Member.ID })).Members.Count);

        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberRemoveAsync(new MemberRemoveRequest { ID = 42 }));
        Assert.Equal((StatusCode.NotFound, "etcdserver: member not found"), (unknown.StatusCode, unknown.Status.Detail));

        var promote = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberPromoteAsync(new MemberPromoteRequest { ID = cluster[1].Node.Consensus.Status.MemberId }));
        Assert.Equal("etcdserver: can only promote a learner member", promote.Status.Detail);

        // A member added but never started can be removed again; nothing else changed.
        var pending = await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { "http://127.0.0.1:1" } });
        var second = await Assert.ThrowsAsync<RpcException>(async () => await client.MemberAddAsync(new MemberAddRequest { PeerURLs = { "http://127.0.0.1:2" } }));
        Assert.Equal("etcdserver: unhealthy cluster", second.Status.Detail);
        var afterRemove = await client.MemberRemoveAsync(new MemberRemoveRequest { ID = pending.Member.ID });
        Assert.Equal(3, afterRemove.Members.Count);
    }

    [Fact]
    public async Task Etcdctl_member_add_and_remove()
    {
        var endpoint = cluster.Endpoints[0].Replace("http://", "");
        var (index, peerUrl) = cluster.AddMemberSlot();
        var add = (await Etcdctl.RunAsync(endpoint, "member", "add", $"m{index + 1}", $"--peer-urls={peerUrl}")).EnsureSuccess();
        Assert.Contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\"", add.Stdout, StringComparison.Ordinal);
        Assert.Contains($"m{index + 1}={peerUrl}", add.Stdout, StringComparison.Ordinal);

        await cluster.StartMemberAsync(index);
        await Eventually.WaitAsync(
            async _ => (await Etcdctl.RunAsync(endpoint, "member", "list")).Lines.Count(l => l.Contains(", started, ", StringComparison.Ordinal)) == 4,
            TimeSpan.FromSeconds(30),
            "etcdctl member list to show 4 started members");

        var id = cluster[index].Node.Consensus.Status.MemberId.ToString("x");
        var remove = (await Etcdctl.RunAsync(endpoint, "member", "remove", id)).EnsureSuccess();
        Assert.Contains($"{id} removed from cluster", remove.Stdout, StringComparison.Ordinal);
        // A follower learns the committed configuration with the next heartbeat.
        await Eventually.WaitAsync(
            async _ => (await Etcdctl.RunAsync(endpoint, "member", "list")).EnsureSuccess().Lines.Count == 3,
            TimeSpan.FromSeconds(10),
            "etcdctl member list to show 3 members");
    }

    [Fact]
    public async Task Removing_the_leader_leaves_the_others_to_elect_a_new_one_and_the_old_leader_stops()
    {
        var leader = await cluster.WaitForLeaderAsync();
        var leaderId = cluster[leader].Node.Consensus.Status.MemberId;
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[leader]))
        {
            var response = await new Api.Etcd.Cluster.ClusterClient(channel).MemberRemoveAsync(new MemberRemoveRequest { ID = leaderId });
            Assert.Equal(2, response.Members.Count);
        }

        await cluster[leader].Stopped.WaitAsync(TimeSpan.FromSeconds(30));
        await cluster.StopMemberAsync(leader);
        var next = await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(leader, next);
        using var survivor = GrpcChannel.ForAddress(cluster.Endpoints[next]);
        await new KV.KVClient(survivor).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("after"), Value = ByteString.CopyFromUtf8("v") });
        var list = await new Api.Etcd.Cluster.ClusterClient(survivor).MemberListAsync(new MemberListRequest { Linearizable = true });
        Assert.Equal(2, list.Members.Count);
    }

    [Fact]
    public async Task A_member_whose_data_directory_was_wiped_is_removed_and_added_again_and_gets_everything_back()
    {
        var leader = await cluster.WaitForLeaderAsync();
        var lost = Enumerable.Range(0, 3).First(i => i != leader);
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[leader]);
        var kv = new KV.KVClient(channel);
        for (var i = 0; i < 30; i++)
        {
            await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"k{i}"), Value = ByteString.CopyFromUtf8("v") });
        }

        var lostId = cluster[lost].Node.Consensus.Status.MemberId;
        var peerUrl = cluster[lost].PeerUrl;
        await cluster.StopMemberAsync(lost);
        cluster.WipeMember(lost);

        var members = new Api.Etcd.Cluster.ClusterClient(channel);
        await members.MemberRemoveAsync(new MemberRemoveRequest { ID = lostId });
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("while-away"), Value = ByteString.CopyFromUtf8("v") });
        var added = await members.MemberAddAsync(new MemberAddRequest { PeerURLs = { peerUrl } });
        Assert.Equal(lostId, added.Member.ID); // the id follows the peer address

        await cluster.StartMemberAsync(lost);
        await Eventually.WaitAsync(
            _ => Task.FromResult(Enumerable.Range(0, 3).All(i => cluster[i].Node.Consensus.Status.Members.Count == 3)
                && cluster[lost].Node.Store.Revision == cluster[leader].Node.Store.Revision),
            TimeSpan.FromSeconds(30),
            "the re-added member to be in every configuration and to hold the same revision");

        using var back = GrpcChannel.ForAddress(cluster.Endpoints[lost]);
        var range = await new KV.KVClient(back).RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("k"), RangeEnd = ByteString.CopyFromUtf8("l"), CountOnly = true, Serializable = true });
        Assert.Equal(30, range.Count);
        var list = await new Api.Etcd.Cluster.ClusterClient(back).MemberListAsync(new MemberListRequest { Linearizable = true });
        Assert.Equal(3, list.Members.Count);
        Assert.All(list.Members, static m => Assert.NotEqual("", m.Name));
    }

    [Fact]
    public async Task A_member_still_joining_when_the_leader_steps_down_is_handed_to_the_next_leader()
    {
        var leader = await cluster.WaitForLeaderAsync();
        var (index, peerUrl) = cluster.AddMemberSlot();
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[leader]);
        var members = new Api.Etcd.Cluster.ClusterClient(channel);
        var added = await members.MemberAddAsync(new MemberAddRequest { PeerURLs = { peerUrl } });

        // The leader leaves before the new member has started: removing it makes it step aside first.
        var leaderId = cluster[leader].Node.Consensus.Status.MemberId;
        await members.MemberRemoveAsync(new MemberRemoveRequest { ID = leaderId });
        await cluster[leader].Stopped.WaitAsync(TimeSpan.FromSeconds(30));
        await cluster.StopMemberAsync(leader);

        await cluster.StartMemberAsync(index);
        var survivor = Enumerable.Range(0, 3).First(i => i != leader);
        await Eventually.WaitAsync(
            async _ =>
            {
                using var c = GrpcChannel.ForAddress(cluster.Endpoints[survivor]);
                var list = await new Api.Etcd.Cluster.ClusterClient(c).MemberListAsync(new MemberListRequest { Linearizable = true });
                return list.Members.Count == 3 && list.Members.Any(m => m.ID == added.Member.ID && m.Name == $"m{index + 1}");
            },
            TimeSpan.FromSeconds(30),
            "the new member to join through the next leader");

        // It serves: receiving the configuration without itself while it caught up did not count as a removal.
        using var joined = GrpcChannel.ForAddress(cluster.Endpoints[index]);
        await new KV.KVClient(joined).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("via-new"), Value = ByteString.CopyFromUtf8("v") });
        Assert.False(cluster[index].Node.Consensus.Removed.IsCancellationRequested);
        Assert.False(cluster[index].Stopped.IsCompleted);
    }

    [Fact]
    public async Task A_member_added_under_a_leader_that_stops_before_it_joins_is_still_added_by_the_next_leader()
    {
        var leader = await cluster.WaitForLeaderAsync();
        var (index, peerUrl) = cluster.AddMemberSlot();
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[leader]))
        {
            await new Api.Etcd.Cluster.ClusterClient(channel).MemberAddAsync(new MemberAddRequest { PeerURLs = { peerUrl } });
        }

        // The leader goes away without handing the joining member over (as if it crashed): only the replicated
        // record of the addition is left, and the next leader continues from it.
        await cluster.StopMemberAsync(leader);
        var next = await cluster.WaitForLeaderAsync();
        using var survivor = GrpcChannel.ForAddress(cluster.Endpoints[next]);
        var listed = await new Api.Etcd.Cluster.ClusterClient(survivor).MemberListAsync(new MemberListRequest { Linearizable = true });
        Assert.Contains(listed.Members, m => m.PeerURLs.Contains(peerUrl));

        await cluster.StartMemberAsync(index);
        var newId = cluster[index].Node.Consensus.Status.MemberId;
        await Eventually.WaitAsync(
            _ => Task.FromResult(cluster[next].Node.Consensus.Status.Members.Any(m => m.Id == newId)),
            TimeSpan.FromSeconds(30),
            "the next leader to add the new member");
        using var joined = GrpcChannel.ForAddress(cluster.Endpoints[index]);
        await new KV.KVClient(joined).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("via-new"), Value = ByteString.CopyFromUtf8("v") });
        await Eventually.WaitAsync(
            async _ => (await new Api.Etcd.Cluster.ClusterClient(survivor).MemberListAsync(new MemberListRequest { Linearizable = true }))
                .Members.Any(m => m.ID == newId && m.Name == $"m{index + 1}"),
            TimeSpan.FromSeconds(10),
            "the member list to name the joined member");
    }
}

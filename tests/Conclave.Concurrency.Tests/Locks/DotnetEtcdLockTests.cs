using Conclave.Concurrency.Tests.Fixtures;
using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;

namespace Conclave.Concurrency.Tests.Locks;

/// <summary>The Lock and Election services through a client library nobody here wrote: dotnet-etcd.</summary>
public sealed class DotnetEtcdLockTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Two_contenders_take_the_lock_in_turn_with_increasing_create_revisions()
    {
        using var client = Connect();
        var name = Names.Unique("de-lock");
        var a = await client.LeaseGrantAsync(new LeaseGrantRequest { TTL = 30 });
        var b = await client.LeaseGrantAsync(new LeaseGrantRequest { TTL = 30 });

        var first = await client.LockAsync(name, a.ID);
        var second = client.LockAsync(name, b.ID);
        await Eventually.WaitAsync(async ct => (await client.GetAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(name + "/"), RangeEnd = Google.Protobuf.ByteString.CopyFromUtf8(name + "0"), CountOnly = true }, cancellationToken: ct)).Count == 2, Deadline, "the second contender to queue");
        Assert.False(second.IsCompleted);
        var firstToken = (await client.GetAsync(first.Key.ToStringUtf8())).Kvs[0].CreateRevision;

        await client.UnlockAsync(first.Key.ToStringUtf8());
        var acquired = await second.WaitAsync(Deadline);

        var secondToken = (await client.GetAsync(acquired.Key.ToStringUtf8())).Kvs[0].CreateRevision;
        Assert.True(secondToken > firstToken);
        Assert.Equal($"{name}/{b.ID:x}", acquired.Key.ToStringUtf8());
        await client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = a.ID });
        await client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = b.ID });
    }

    [Fact]
    public async Task Campaign_leader_and_resign()
    {
        using var client = Connect();
        var name = Names.Unique("de-elect");
        var lease = await client.LeaseGrantAsync(new LeaseGrantRequest { TTL = 30 });

        var noLeader = await Assert.ThrowsAsync<RpcException>(() => client.LeaderAsync(name));
        var won = await client.CampaignAsync(name, lease.ID, "me");
        var leader = await client.LeaderAsync(name);
        await client.ResignAsync(won.Leader);

        Assert.Equal("election: no leader", noLeader.Status.Detail);
        Assert.Equal(("me", won.Leader.Rev), (leader.Kv.Value.ToStringUtf8(), leader.Kv.CreateRevision));
        await Assert.ThrowsAsync<RpcException>(() => client.LeaderAsync(name));
        await client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease.ID });
    }

    private EtcdClient Connect() =>
        new(fixture.Endpoint, configureChannelOptions: o => o.Credentials = ChannelCredentials.Insecure);
}

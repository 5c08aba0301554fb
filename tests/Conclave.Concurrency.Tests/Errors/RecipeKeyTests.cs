using Conclave.Api.Election;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Conclave.Concurrency.Tests.Fixtures;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using LockClient = Conclave.Api.Lock.Lock.LockClient;

namespace Conclave.Concurrency.Tests.Errors;

/// <summary>
/// Unlock, Proclaim and Resign name an existing key: they may only touch a lock or candidate key
/// (<c>name/leaseID</c>) held by that lease, never an arbitrary key; and Lock / Campaign / Proclaim obey
/// <c>--max-request-bytes</c> like any KV write. Raw gRPC, as any etcd client sends it.
/// </summary>
public sealed class RecipeKeyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int MaxRequestBytes = 4096;

    private TestNode node = null!;
    private GrpcChannel channel = null!;

    public async Task InitializeAsync()
    {
        node = await TestNode.StartInProcessAsync(output, o => o with { MaxRequestBytes = MaxRequestBytes });
        channel = node.CreateChannel();
    }

    public async Task DisposeAsync()
    {
        channel.Dispose();
        await node.DisposeAsync();
    }

    private KV.KVClient Kv => new(channel);

    private static ByteString Bytes(string s) => ByteString.CopyFromUtf8(s);

    private async Task<long> GrantAsync() => (await new Lease.LeaseClient(channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 })).ID;

    private async Task<Api.Mvcc.KeyValue?> GetAsync(ByteString key) => (await Kv.RangeAsync(new RangeRequest { Key = key })).Kvs.SingleOrDefault();

    [Fact]
    public async Task Resign_and_proclaim_refuse_keys_that_are_not_the_leases_candidate_key()
    {
        var lease = await GrantAsync();
        var plain = Bytes(Names.Unique("plain"));
        var put = await Kv.PutAsync(new PutRequest { Key = plain, Value = Bytes("mine") });
        var ownLeased = Bytes(Names.Unique("leased"));
        await Kv.PutAsync(new PutRequest { Key = ownLeased, Value = Bytes("leased"), Lease = lease });
        var election = new Election.ElectionClient(channel);
        var ownLeasedRev = (await GetAsync(ownLeased))!.CreateRevision;

        var resignPlain = await Assert.ThrowsAsync<RpcException>(async () => await election.ResignAsync(new ResignRequest { Leader = new LeaderKey { Key = plain, Rev = put.Header.Revision, Lease = lease } }));
        var resignLeased = await Assert.ThrowsAsync<RpcException>(async () => await election.ResignAsync(new ResignRequest { Leader = new LeaderKey { Key = ownLeased, Rev = ownLeasedRev, Lease = lease } }));
        var proclaimPlain = await Assert.ThrowsAsync<RpcException>(async () => await election.ProclaimAsync(new ProclaimRequest { Leader = new LeaderKey { Key = plain, Rev = put.Header.Revision, Lease = lease }, Value = Bytes("x") }));
        // The recipe's shape, but a key put without the lease it names.
        var lookalike = Bytes($"{Names.Unique("fake")}/{lease:x}");
        var lookalikeRev = (await Kv.PutAsync(new PutRequest { Key = lookalike, Value = Bytes("not a candidate") })).Header.Revision;
        await election.ResignAsync(new ResignRequest { Leader = new LeaderKey { Key = lookalike, Rev = lookalikeRev, Lease = lease } });
        var proclaimLookalike = await Assert.ThrowsAsync<RpcException>(async () => await election.ProclaimAsync(new ProclaimRequest { Leader = new LeaderKey { Key = lookalike, Rev = lookalikeRev, Lease = lease }, Value = Bytes("x") }));

        Assert.All([resignPlain, resignLeased, proclaimPlain], e => Assert.Equal((StatusCode.InvalidArgument, "etcdserver: invalid argument"), (e.StatusCode, e.Status.Detail)));
        Assert.Equal((StatusCode.Unknown, "election: not leader"), (proclaimLookalike.StatusCode, proclaimLookalike.Status.Detail));
        Assert.Equal("mine", (await GetAsync(plain))!.Value.ToStringUtf8());
        Assert.Equal("leased", (await GetAsync(ownLeased))!.Value.ToStringUtf8());
        Assert.Equal("not a candidate", (await GetAsync(lookalike))!.Value.ToStringUtf8());
    }

    [Fact]
    public async Task Campaign_proclaim_resign_still_work_on_the_real_candidate_key()
    {
        var lease = await GrantAsync();
        var election = new Election.ElectionClient(channel);
        var name = Bytes(Names.Unique("real"));

        var won = await election.CampaignAsync(new CampaignRequest { Name = name, Lease = lease, Value = Bytes("v1") });
        await election.ProclaimAsync(new ProclaimRequest { Leader = won.Leader, Value = Bytes("v2") });
        var proclaimed = await GetAsync(won.Leader.Key);
        var stale = await Assert.ThrowsAsync<RpcException>(async () => await election.ProclaimAsync(new ProclaimRequest { Leader = new LeaderKey(won.Leader) { Rev = won.Leader.Rev + 1 }, Value = Bytes("v3") }));
        await election.ResignAsync(new ResignRequest { Leader = won.Leader });

        Assert.Equal(("v2", lease), (proclaimed!.Value.ToStringUtf8(), proclaimed.Lease));
        Assert.Equal("election: not leader", stale.Status.Detail);
        Assert.Null(await GetAsync(won.Leader.Key));
    }

    [Fact]
    public async Task Unlock_deletes_only_a_lock_key_held_by_the_lease_it_names()
    {
        var lease = await GrantAsync();
        var locks = new LockClient(channel);
        var plain = Bytes(Names.Unique("plain"));
        await Kv.PutAsync(new PutRequest { Key = plain, Value = Bytes("keep") });
        var lookalike = Bytes($"{Names.Unique("fake")}/{lease:x}");
        await Kv.PutAsync(new PutRequest { Key = lookalike, Value = Bytes("keep") });

        var notLockKey = await Assert.ThrowsAsync<RpcException>(async () => await locks.UnlockAsync(new UnlockRequest { Key = plain }));
        var notHeld = await Assert.ThrowsAsync<RpcException>(async () => await locks.UnlockAsync(new UnlockRequest { Key = lookalike }));
        var held = await locks.LockAsync(new LockRequest { Name = Bytes(Names.Unique("lock")), Lease = lease });
        await locks.UnlockAsync(new UnlockRequest { Key = held.Key });
        await locks.UnlockAsync(new UnlockRequest { Key = held.Key });

        Assert.Equal(StatusCode.InvalidArgument, notLockKey.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, notHeld.StatusCode);
        Assert.Contains("not held by lease", notHeld.Trailers.GetValue("conclave-detail"), StringComparison.Ordinal);
        Assert.NotNull(await GetAsync(plain));
        Assert.NotNull(await GetAsync(lookalike));
        Assert.Null(await GetAsync(held.Key));
    }

    [Fact]
    public async Task Oversized_names_and_values_through_lock_and_election_are_too_large_and_write_nothing()
    {
        var lease = await GrantAsync();
        var big = new string('n', MaxRequestBytes * 2);
        var election = new Election.ElectionClient(channel);
        var small = Bytes(Names.Unique("small"));
        var won = await election.CampaignAsync(new CampaignRequest { Name = small, Lease = lease, Value = Bytes("v") });

        var failures = new[]
        {
            await Assert.ThrowsAsync<RpcException>(async () => await new LockClient(channel).LockAsync(new LockRequest { Name = Bytes(big), Lease = lease })),
            await Assert.ThrowsAsync<RpcException>(async () => await election.CampaignAsync(new CampaignRequest { Name = Bytes(big), Lease = lease })),
            await Assert.ThrowsAsync<RpcException>(async () => await election.CampaignAsync(new CampaignRequest { Name = Bytes(Names.Unique("bigvalue")), Lease = lease, Value = Bytes(big) })),
            await Assert.ThrowsAsync<RpcException>(async () => await election.ProclaimAsync(new ProclaimRequest { Leader = won.Leader, Value = Bytes(big) })),
        };

        Assert.All(failures, e => Assert.Equal((StatusCode.InvalidArgument, "etcdserver: request is too large"), (e.StatusCode, e.Status.Detail)));
        Assert.Contains("--max-request-bytes", failures[0].Trailers.GetValue("conclave-detail"), StringComparison.Ordinal);
        var ttl = await new Lease.LeaseClient(channel).LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = lease, Keys = true });
        Assert.Equal([won.Leader.Key], ttl.Keys);
        Assert.Equal("v", (await GetAsync(won.Leader.Key))!.Value.ToStringUtf8());
    }
}

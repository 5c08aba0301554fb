using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Errors;

/// <summary>Unknown leases, TTLs out of range, misuse of sessions: etcd's codes and texts, typed on the client.</summary>
public sealed class BadInputTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const long Unknown = 0x7fff_abcd_0000_1234;

    [Fact]
    public async Task Unknown_lease_is_not_found_for_put_revoke_and_keepalive_and_ttl_minus_one_for_timetolive()
    {
        await using var client = fixture.CreateClient();

        var put = await Assert.ThrowsAsync<LeaseNotFoundException>(async () => await client.PutAsync(Names.Unique("bad"), "v", new PutOptions { Lease = Unknown }));
        var revoke = await Assert.ThrowsAsync<LeaseNotFoundException>(async () => await client.LeaseRevokeAsync(Unknown));
        var once = await Assert.ThrowsAsync<LeaseNotFoundException>(async () => await client.KeepAliveOnceAsync(Unknown));
        var ttl = await client.LeaseTimeToLiveAsync(Unknown, keys: true);
        var stream = await Assert.ThrowsAsync<LeaseLostException>(async () =>
        {
            await foreach (var _ in client.KeepAliveAsync(Unknown))
            {
            }
        });

        Assert.Equal((Unknown, Grpc.Core.StatusCode.NotFound, "etcdserver: requested lease not found"), (put.LeaseId, put.StatusCode, put.ServerMessage));
        Assert.Equal((Unknown, "etcdserver: requested lease not found"), (revoke.LeaseId, revoke.ServerMessage));
        Assert.Equal(Unknown, once.LeaseId);
        Assert.Equal((-1L, 0L, false), (ttl.Ttl, ttl.GrantedTtl, ttl.Exists));
        Assert.Empty(ttl.Keys);
        Assert.Equal((Unknown, LeaseLostReason.NotFound), (stream.LeaseId, stream.Reason));
    }

    [Fact]
    public async Task Ttl_over_the_limit_is_out_of_range_and_under_the_minimum_is_raised()
    {
        await using var client = fixture.CreateClient();

        var tooLarge = await Assert.ThrowsAsync<InvalidRequestException>(async () => await client.LeaseGrantAsync(9_000_000_001));
        var tiny = await client.LeaseGrantAsync(1);
        var duplicate = await Assert.ThrowsAnyAsync<ConclaveException>(async () => await client.LeaseGrantAsync(30, tiny.Id));

        Assert.Equal((InvalidRequestReason.ValueOutOfRange, Grpc.Core.StatusCode.OutOfRange, "etcdserver: too large lease TTL"), (tooLarge.Reason, tooLarge.StatusCode, tooLarge.ServerMessage));
        Assert.Equal(2, tiny.Ttl);
        Assert.Equal("etcdserver: lease already exists", duplicate.ServerMessage);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await client.LeaseGrantAsync(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await client.CreateSessionAsync(-5));
        await client.LeaseRevokeAsync(tiny.Id);
    }

    [Fact]
    public async Task Keepalive_stream_for_a_lease_revoked_meanwhile_ends_with_not_found()
    {
        await using var client = fixture.CreateClient();
        var lease = await client.LeaseGrantAsync(3);
        var answers = new List<LeaseKeepAliveResult>();

        var ex = await Assert.ThrowsAsync<LeaseLostException>(async () =>
        {
            await foreach (var answer in client.KeepAliveAsync(lease.Id))
            {
                answers.Add(answer);
                if (answers.Count == 1)
                {
                    await client.LeaseRevokeAsync(lease.Id);
                }
            }
        });

        Assert.Equal(LeaseLostReason.NotFound, ex.Reason);
        Assert.Equal((lease.Id, 3L), (answers[0].Id, answers[0].Ttl));
    }

    [Fact]
    public async Task Sessions_refuse_empty_names_and_work_after_a_lost_lock_handle_is_released_twice()
    {
        await using var client = fixture.CreateClient();
        await using var session = await client.CreateSessionAsync(30);
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.LockAsync(string.Empty));
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.CampaignAsync(string.Empty, "v"));

        var name = Names.Unique("twice");
        var held = await session.LockAsync(name);
        await held.UnlockAsync();
        await held.UnlockAsync();
        await held.DisposeAsync();
        await using var again = await session.LockAsync(name);
        Assert.True(again.FencingToken > held.FencingToken);
        Assert.Null(await client.LeaderAsync(Names.Unique("nobody")));
    }

    [Fact]
    public async Task A_disposed_session_revokes_its_lease_and_refuses_new_locks()
    {
        await using var client = fixture.CreateClient();
        var session = await client.CreateSessionAsync(30);
        var name = Names.Unique("closed");
        var held = await session.LockAsync(name);

        await session.DisposeAsync();

        Assert.Equal(LeaseLostReason.Closed, session.LostReason);
        Assert.False((await client.LeaseTimeToLiveAsync(session.LeaseId)).Exists);
        Assert.False((await client.GetAsync(held.Key)).Found);
        await Eventually.WaitAsync(() => held.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(10), "the lock to be reported lost");
        var ex = await Assert.ThrowsAsync<LeaseLostException>(async () => await session.LockAsync(name));
        Assert.Equal(LeaseLostReason.Closed, ex.Reason);
    }
}

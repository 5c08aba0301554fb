using Conclave.Api.Lock;
using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;
using Google.Protobuf;

namespace Conclave.Concurrency.Tests.Locks;

/// <summary>The Lock service through the SDK's sessions, and raw (etcd's v3lockpb) where the SDK hides details.</summary>
public sealed class LockTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Second_contender_acquires_only_after_the_first_releases_with_a_larger_fencing_token()
    {
        var name = Names.Unique("lock");
        await using var client = fixture.CreateClient();
        await using var first = await client.CreateSessionAsync(30);
        await using var second = await client.CreateSessionAsync(30);

        var held = await first.LockAsync(name);
        var waiting = second.LockAsync(name).AsTask();

        // The second contender is queued (its key exists) but does not hold the lock.
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second contender to queue");
        Assert.False(waiting.IsCompleted);
        var holderKey = await client.GetAsync(held.Key);
        Assert.Equal(held.FencingToken, holderKey.First!.CreateRevision);
        Assert.Equal($"{name}/{first.LeaseId:x}", held.KeyString);
        Assert.Equal(first.LeaseId, holderKey.First.Lease);

        await held.DisposeAsync();
        await using var next = await waiting.WaitAsync(Deadline);

        Assert.True(next.FencingToken > held.FencingToken, $"token {next.FencingToken} after {held.FencingToken}");
        Assert.True(held.LostToken.IsCancellationRequested);
        Assert.False(next.LostToken.IsCancellationRequested);
        Assert.Equal($"{name}/{second.LeaseId:x}", next.KeyString);
        Assert.False(await held.PutIfHolderAsync(name + "-data", "stale"));
        Assert.True(await next.PutIfHolderAsync(name + "-data", "fresh"));
        Assert.Equal("fresh", (await client.GetAsync(name + "-data")).First!.ValueString);
    }

    [Fact]
    public async Task Many_contenders_take_turns_and_tokens_strictly_increase()
    {
        var name = Names.Unique("turns");
        await using var client = fixture.CreateClient();
        var tokens = new List<long>();
        var inside = 0;
        var overlaps = 0;

        async Task ContendAsync()
        {
            await using var session = await client.CreateSessionAsync(30);
            for (var i = 0; i < 5; i++)
            {
                await using var held = await session.LockAsync(name);
                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                lock (tokens)
                {
                    tokens.Add(held.FencingToken);
                }

                await Task.Yield();
                Interlocked.Decrement(ref inside);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(ContendAsync))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, overlaps);
        Assert.Equal(20, tokens.Count);
        for (var i = 1; i < tokens.Count; i++)
        {
            Assert.True(tokens[i] > tokens[i - 1], $"token #{i} = {tokens[i]} is not above {tokens[i - 1]}: [{string.Join(", ", tokens)}]");
        }
    }

    [Fact]
    public async Task Revoking_the_session_lease_releases_the_lock_to_the_next_waiter_and_fires_lost()
    {
        var name = Names.Unique("revoke");
        await using var client = fixture.CreateClient();

        // A short TTL: the first session learns of the revoke at its next renewal, a third of the TTL later.
        await using var first = await client.CreateSessionAsync(3);
        await using var second = await client.CreateSessionAsync(30);
        var held = await first.LockAsync(name);
        var waiting = second.LockAsync(name).AsTask();
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second contender to queue");

        // As if the first holder's lease ended behind its back.
        await client.LeaseRevokeAsync(first.LeaseId);

        await using var next = await waiting.WaitAsync(Deadline);
        await Eventually.WaitAsync(() => held.LostToken.IsCancellationRequested && first.Lost.IsCancellationRequested, Deadline, "the first holder to learn it lost the lock");
        Assert.Equal(LeaseLostReason.NotFound, first.LostReason);
        Assert.True(next.FencingToken > held.FencingToken);
    }

    [Fact]
    public async Task Cancelling_a_wait_leaves_the_queue()
    {
        var name = Names.Unique("cancel");
        await using var client = fixture.CreateClient();
        await using var first = await client.CreateSessionAsync(30);
        await using var second = await client.CreateSessionAsync(30);
        await using var held = await first.LockAsync(name);
        using var giveUp = new CancellationTokenSource();
        var waiting = second.LockAsync(name, giveUp.Token).AsTask();
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second contender to queue");

        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Deadline));
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 1, Deadline, "the canceled waiter's key to go");
        Assert.True(second.IsAlive);

        // The session can queue again for the same name once the first attempt is gone.
        var again = second.LockAsync(name).AsTask();
        await held.DisposeAsync();
        await using var acquired = await again.WaitAsync(Deadline);
        Assert.True(acquired.FencingToken > held.FencingToken);
    }

    [Fact]
    public async Task One_session_cannot_queue_twice_for_one_name()
    {
        var name = Names.Unique("twice");
        await using var client = fixture.CreateClient();
        await using var session = await client.CreateSessionAsync(30);
        await using var held = await session.LockAsync(name);

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await session.LockAsync(name));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await session.CampaignAsync(name, "v"));
    }

    [Fact]
    public async Task Raw_lock_service_queues_by_create_revision_and_unlock_of_a_key_not_held_changes_nothing()
    {
        var name = Names.Unique("raw");
        await using var client = fixture.CreateClient();
        using var channel = fixture.Node.CreateChannel();
        var locks = new Api.Lock.Lock.LockClient(channel);
        var a = await client.LeaseGrantAsync(30);
        var b = await client.LeaseGrantAsync(30);

        var first = await locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(name), Lease = a.Id });
        var second = locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(name), Lease = b.Id }).ResponseAsync;
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second contender to queue");

        // etcd's Unlock deletes the given key and succeeds even when nobody holds it.
        var stray = await locks.UnlockAsync(new UnlockRequest { Key = ByteString.CopyFromUtf8(name + "/not-a-holder") });
        Assert.NotNull(stray.Header);
        Assert.Equal(first.Key, (await client.GetAsync(name + "/", new GetOptions { Prefix = true, SortTarget = SortTarget.CreateRevision, SortOrder = SortOrder.Ascend })).First!.Key);
        Assert.False(second.IsCompleted);

        await locks.UnlockAsync(new UnlockRequest { Key = first.Key });
        var acquired = await second.WaitAsync(Deadline);
        Assert.Equal($"{name}/{b.Id:x}", acquired.Key.ToStringUtf8());

        // Locking with a lease that does not exist is etcd's lease-not-found error.
        var missing = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(name), Lease = 0x7fff_0000_1234 }).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.NotFound, missing.StatusCode);
        Assert.Equal("etcdserver: requested lease not found", missing.Status.Detail);
        await client.LeaseRevokeAsync(a.Id);
        await client.LeaseRevokeAsync(b.Id);
    }
}

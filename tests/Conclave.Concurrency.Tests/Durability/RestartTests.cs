using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Durability;

/// <summary>
/// A real <c>conclave serve</c> is SIGKILLed with live leases and a lock queue, then restarted on the same data
/// directory: leases come back with recomputed deadlines, their keys intact, the holder and waiter keys keep
/// their create revisions, and the waiting sessions (which retry through the restart) get the lock in order.
/// </summary>
public sealed class RestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Leases_and_a_lock_queue_survive_kill_9_and_the_queue_proceeds_in_order()
    {
        using var dir = TempDirectory.Create("conclave-lease-restart-");
        await using var member = await NodeProcess.StartAsync(dir.Combine("data"), new NodeProcessOptions { Output = output });
        await using var client = new ConclaveClient(new ConclaveClientOptions { Endpoints = [member.Endpoint], RequestTimeout = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromMilliseconds(500), MaxAttempts = 20 });
        var name = Names.Unique("queue");

        var lease = await client.LeaseGrantAsync(60);
        await client.PutAsync(name + "-data/a", "1", new PutOptions { Lease = lease.Id });
        await client.PutAsync(name + "-data/b", "2", new PutOptions { Lease = lease.Id });
        await using var s1 = await client.CreateSessionAsync(30);
        await using var s2 = await client.CreateSessionAsync(30);
        await using var s3 = await client.CreateSessionAsync(30);
        var held = await s1.LockAsync(name);
        var second = s2.LockAsync(name).AsTask();
        await WaitForQueueAsync(client, name, 2);
        var third = s3.LockAsync(name).AsTask();
        await WaitForQueueAsync(client, name, 3);
        var queue = await QueueAsync(client, name);

        member.Kill();
        await member.RestartAsync();

        // Leases: still there, deadlines recomputed from the granted TTL (never reported above it), keys attached.
        var ttl = await client.LeaseTimeToLiveAsync(lease.Id, keys: true);
        Assert.True(ttl.Exists);
        Assert.InRange(ttl.Ttl, 1, 60);
        Assert.Equal(60, ttl.GrantedTtl);
        Assert.Equal([name + "-data/a", name + "-data/b"], ttl.Keys.Select(k => k.ToStringUtf8()));
        var data = await client.GetAsync(name + "-data/", new GetOptions { Prefix = true });
        Assert.Equal([("1", lease.Id), ("2", lease.Id)], data.Kvs.Select(k => (k.ValueString, k.Lease)));
        var leases = await client.LeasesAsync();
        Assert.Superset(new HashSet<long> { lease.Id, s1.LeaseId, s2.LeaseId, s3.LeaseId }, leases.ToHashSet());
        foreach (var session in new[] { s1, s2, s3 })
        {
            var left = await client.LeaseTimeToLiveAsync(session.LeaseId);
            Assert.InRange(left.Ttl, 1, 30);
        }

        // The queue: same keys, same create revisions, same order.
        Assert.Equal(queue, await QueueAsync(client, name));
        Assert.Equal([held.KeyString, $"{name}/{s2.LeaseId:x}", $"{name}/{s3.LeaseId:x}"], queue.Select(q => q.Key));
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        // The waiters retried their Lock calls through the restart and kept their places.
        await held.UnlockAsync();
        await using var next = await second.WaitAsync(Deadline);
        Assert.Equal(queue[1].CreateRevision, next.FencingToken);
        Assert.False(third.IsCompleted);
        await next.UnlockAsync();
        await using var last = await third.WaitAsync(Deadline);
        Assert.Equal(queue[2].CreateRevision, last.FencingToken);
        Assert.True(held.FencingToken < next.FencingToken && next.FencingToken < last.FencingToken);

        // The sessions' keep-alives reconnected: still alive well after the restart.
        Assert.True(s1.IsAlive && s2.IsAlive && s3.IsAlive);
        Assert.True((await client.KeepAliveOnceAsync(s3.LeaseId)).Ttl == 30);
    }

    private static async Task<List<(string Key, long CreateRevision)>> QueueAsync(ConclaveClient client, string name) =>
        [.. (await client.GetAsync(name + "/", new GetOptions { Prefix = true, SortTarget = SortTarget.CreateRevision, SortOrder = SortOrder.Ascend })).Kvs.Select(k => (k.KeyString, k.CreateRevision))];

    private static Task WaitForQueueAsync(ConclaveClient client, string name, int count) =>
        Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == count, Deadline, $"{count} key(s) in the queue of {name}");
}

using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Leases;

/// <summary>
/// Expiry on a node whose lease clock is a <see cref="ManualClock"/>: the test decides when a lease runs out,
/// so what happens at that moment (one revoke through the log, all keys deleted at one revision, watchers told)
/// is checked exactly, without waiting for a TTL.
/// </summary>
public sealed class LeaseExpiryTests(ITestOutputHelper output) : ManualClockNodeTests(output)
{
    [Fact]
    public async Task Expiry_deletes_every_attached_key_at_one_revision_and_a_watcher_sees_exactly_those_deletes()
    {
        var prefix = Names.Unique("exp") + "/";
        var lease = await Client.LeaseGrantAsync(5);
        var other = await Client.LeaseGrantAsync(600);
        await Client.PutAsync(prefix + "a", "1", new PutOptions { Lease = lease.Id });
        await Client.PutAsync(prefix + "b", "2", new PutOptions { Lease = lease.Id });
        await Client.PutAsync(prefix + "c", "3", new PutOptions { Lease = lease.Id });
        await Client.PutAsync(prefix + "kept-plain", "4");
        var last = await Client.PutAsync(prefix + "kept-other-lease", "5", new PutOptions { Lease = other.Id });
        var attached = await Client.LeaseTimeToLiveAsync(lease.Id, keys: true);
        Assert.Equal([prefix + "a", prefix + "b", prefix + "c"], attached.Keys.Select(k => k.ToStringUtf8()));

        using var stopWatch = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new List<WatchEvent>();
        var sawDeletes = new TaskCompletionSource();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in Client.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = last.Revision + 1 }, stopWatch.Token))
            {
                lock (events)
                {
                    events.Add(e);
                    if (events.Count == 3)
                    {
                        sawDeletes.TrySetResult();
                    }
                }
            }
        });

        // Each step moves the lease clock past the TTL (and the leader-change grace); the keeper's timer fires on it.
        await Eventually.WaitAsync(
            async ct =>
            {
                Clock.Advance(TimeSpan.FromSeconds(10));
                return !(await Client.LeaseTimeToLiveAsync(lease.Id, cancellationToken: ct)).Exists;
            },
            TimeSpan.FromSeconds(20),
            "the lease to expire on the manual clock");
        await sawDeletes.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // A marker written after expiry proves the watcher has seen everything up to here, and nothing else came.
        var marker = await Client.PutAsync(prefix + "zz-marker", "m");
        await Eventually.WaitAsync(() => { lock (events) { return events.Count >= 4; } }, TimeSpan.FromSeconds(20), "the marker event");
        await stopWatch.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);

        WatchEvent[] seen;
        lock (events)
        {
            seen = [.. events];
        }

        var deletes = seen[..3];
        Assert.All(deletes, e => Assert.Equal(WatchEventType.Delete, e.Type));
        Assert.Equal([prefix + "a", prefix + "b", prefix + "c"], deletes.Select(e => e.Entry.KeyString).Order());
        Assert.Single(deletes.Select(e => e.Revision).Distinct());
        Assert.Equal(last.Revision + 1, deletes[0].Revision);
        Assert.Equal(marker.Revision, deletes[0].Revision + 1);
        Assert.Equal((WatchEventType.Put, prefix + "zz-marker"), (seen[3].Type, seen[3].Entry.KeyString));
        Assert.Equal(4, seen.Length);

        var left = await Client.GetAsync(prefix, new GetOptions { Prefix = true, KeysOnly = true });
        Assert.Equal([prefix + "kept-other-lease", prefix + "kept-plain", prefix + "zz-marker"], left.Kvs.Select(k => k.KeyString));
        Assert.True((await Client.LeaseTimeToLiveAsync(other.Id)).Exists);
        Assert.DoesNotContain(lease.Id, await Client.LeasesAsync());
    }

    [Fact]
    public async Task A_lease_kept_alive_outlives_its_ttl_on_the_lease_clock_and_expires_once_renewals_stop()
    {
        var key = Names.Unique("kept");
        var lease = await Client.LeaseGrantAsync(5);
        await Client.PutAsync(key, "v", new PutOptions { Lease = lease.Id });

        // Let the keeper take the lease into its clock, then renew after every step shorter than the TTL.
        for (var i = 0; i < 6; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(3));
            var renewed = await Client.KeepAliveOnceAsync(lease.Id);
            Assert.Equal(5, renewed.Ttl);
        }

        var alive = await Client.LeaseTimeToLiveAsync(lease.Id, keys: true);
        Assert.InRange(alive.Ttl, 1, 5);
        Assert.Equal(5, alive.GrantedTtl);
        Assert.Single(alive.Keys);

        await Eventually.WaitAsync(
            async ct =>
            {
                Clock.Advance(TimeSpan.FromSeconds(10));
                return !(await Client.GetAsync(key, cancellationToken: ct)).Found;
            },
            TimeSpan.FromSeconds(20),
            "the key to go with its lease once renewals stop");
        await Assert.ThrowsAsync<LeaseNotFoundException>(async () => await Client.KeepAliveOnceAsync(lease.Id));
        Assert.Equal(-1, (await Client.LeaseTimeToLiveAsync(lease.Id)).Ttl);
    }

    [Fact]
    public async Task A_session_learns_that_its_lease_expired_and_its_lock_is_lost()
    {
        var name = Names.Unique("lost");
        await using var session = await Client.CreateSessionAsync(5);
        await using var held = await session.LockAsync(name);

        await Eventually.WaitAsync(
            async ct =>
            {
                Clock.Advance(TimeSpan.FromSeconds(10));
                return !(await Client.LeaseTimeToLiveAsync(session.LeaseId, cancellationToken: ct)).Exists;
            },
            TimeSpan.FromSeconds(20),
            "the session's lease to expire on the manual clock");

        // The next renewal (a third of the TTL, on the client's real clock) is answered with TTL 0.
        await Eventually.WaitAsync(() => session.Lost.IsCancellationRequested && held.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(20), "the session and the lock to be reported lost");
        Assert.Equal(LeaseLostReason.NotFound, session.LostReason);
        Assert.False((await Client.GetAsync(held.Key)).Found);
        Assert.False(await held.PutIfHolderAsync(name + "-resource", "late write"));
        var ex = await Assert.ThrowsAsync<LeaseLostException>(async () => await session.LockAsync(name + "-other"));
        Assert.Equal(LeaseLostReason.NotFound, ex.Reason);
    }
}

using System.Globalization;
using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Locks;

/// <summary>
/// The lock-protected counter from the issue. Clients increment a counter under a lock; one holder is "paused"
/// past its TTL after reading the counter: the lease clock (a <see cref="ManualClock"/>) jumps past its
/// deadline, exactly what the cluster sees when a holder stops renewing (GC pause, SIGSTOP, partition). Another
/// client takes the lock meanwhile. The stale holder then wakes and writes. Without fencing its write lands and
/// an increment is lost; with the guarded write (a txn comparing the holder key's create revision) it is
/// rejected, the holder retries under a fresh lock, and nothing is lost.
/// </summary>
public sealed class FencingWorkloadTests(ITestOutputHelper output) : ManualClockNodeTests(output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Without_fencing_a_paused_holder_loses_an_update()
    {
        var (counter, lockName) = await SetUpAsync("unfenced");

        // The first holder reads the counter, then stalls past its TTL with the lock in hand.
        await using var paused = await Client.CreateSessionAsync(5);
        var stale = await paused.LockAsync(lockName);
        var seen = await ReadCounterAsync(counter);
        await ExpireAsync(paused.LeaseId);

        // Meanwhile another client takes the lock and increments.
        await using (var other = await Client.CreateSessionAsync(60))
        await using (var held = await other.LockAsync(lockName))
        {
            Assert.True(held.FencingToken > stale.FencingToken);
            await Client.PutAsync(counter, (await ReadCounterAsync(counter) + 1).ToString(CultureInfo.InvariantCulture));
        }

        // The paused holder wakes up still believing it holds the lock, and writes what it computed before.
        await Client.PutAsync(counter, (seen + 1).ToString(CultureInfo.InvariantCulture));

        // Two increments were made under "the lock"; one of them is gone.
        Assert.Equal(1, await ReadCounterAsync(counter));
    }

    [Fact]
    public async Task With_the_guarded_write_the_paused_holder_is_rejected_and_no_update_is_lost()
    {
        var (counter, lockName) = await SetUpAsync("fenced");
        const int workers = 3;
        const int incrementsEach = 4;
        var tokens = new List<long>();

        // The holder that will stall, as above.
        await using var paused = await Client.CreateSessionAsync(5);
        var stale = await paused.LockAsync(lockName);
        var seen = await ReadCounterAsync(counter);
        await ExpireAsync(paused.LeaseId);

        // N clients increment under the lock with guarded writes while the stale holder is away.
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            await using var session = await Client.CreateSessionAsync(60);
            for (var i = 0; i < incrementsEach; i++)
            {
                await IncrementAsync(session, counter, lockName, tokens);
            }
        }))).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(workers * incrementsEach, await ReadCounterAsync(counter));

        // The stale holder wakes and writes through the fence: rejected, and the counter is untouched.
        var accepted = await stale.PutIfHolderAsync(counter, (seen + 1).ToString(CultureInfo.InvariantCulture));
        Assert.False(accepted);
        Assert.Equal(workers * incrementsEach, await ReadCounterAsync(counter));

        // The same check by hand, as any txn can make it: the token is older than every later holder's.
        var raw = await Client.Txn().If(Compare.Fenced(stale.Key, stale.FencingToken)).Then(Op.Put(counter, "999")).CommitAsync();
        Assert.False(raw.Succeeded);
        Assert.All(tokens, t => Assert.True(t > stale.FencingToken));

        // Rejected, it retries its increment under a fresh lock: every increment counts.
        await using (var again = await Client.CreateSessionAsync(60))
        {
            await IncrementAsync(again, counter, lockName, tokens);
        }

        Assert.Equal((workers * incrementsEach) + 1, await ReadCounterAsync(counter));
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    private async Task<(string Counter, string Lock)> SetUpAsync(string what)
    {
        var counter = Names.Unique(what) + "/counter";
        await Client.PutAsync(counter, "0");
        return (counter, counter + "-lock");
    }

    /// <summary>Read, then write read+1 only while still holding the lock; retry the whole thing if the guard fails.</summary>
    private async Task IncrementAsync(ConclaveSession session, string counter, string lockName, List<long> tokens)
    {
        while (true)
        {
            await using var held = await session.LockAsync(lockName);
            var value = await ReadCounterAsync(counter);
            if (await held.PutIfHolderAsync(counter, (value + 1).ToString(CultureInfo.InvariantCulture)))
            {
                lock (tokens)
                {
                    tokens.Add(held.FencingToken);
                }

                return;
            }
        }
    }

    private async Task<long> ReadCounterAsync(string counter) =>
        long.Parse((await Client.GetAsync(counter)).First!.ValueString, CultureInfo.InvariantCulture);

    /// <summary>Moves the lease clock until the cluster has expired <paramref name="leaseId"/> (its holder "paused" that long).</summary>
    private Task ExpireAsync(long leaseId) =>
        Eventually.WaitAsync(
            async ct =>
            {
                Clock.Advance(TimeSpan.FromSeconds(10));
                return !(await Client.LeaseTimeToLiveAsync(leaseId, cancellationToken: ct)).Exists;
            },
            Deadline,
            $"lease {leaseId:x} to expire on the manual clock");
}

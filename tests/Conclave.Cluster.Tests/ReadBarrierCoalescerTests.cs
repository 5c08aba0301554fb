namespace Conclave.Cluster.Tests;

public sealed class ReadBarrierCoalescerTests
{
    [Fact]
    public async Task Callers_that_arrive_during_a_round_share_the_next_round_and_never_an_earlier_one()
    {
        var rounds = 0;
        var release = new List<TaskCompletionSource>();
        var gate = new Lock();
        var coalescer = new ReadBarrierCoalescer(_ =>
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (gate)
            {
                rounds++;
                release.Add(tcs);
            }

            return tcs.Task;
        });

        var first = coalescer.WaitAsync(CancellationToken.None);
        await WaitUntilAsync(() => rounds == 1);

        // These arrive while round 1 runs: they must not complete with it (it started before them).
        var later = Enumerable.Range(0, 50).Select(_ => coalescer.WaitAsync(CancellationToken.None)).ToList();
        release[0].SetResult();
        await first;
        Assert.All(later, t => Assert.False(t.IsCompleted));

        await WaitUntilAsync(() => rounds == 2);
        release[1].SetResult();
        await Task.WhenAll(later);
        Assert.Equal(2, rounds); // 51 callers, two rounds
    }

    [Fact]
    public async Task A_failed_round_fails_its_callers_and_the_next_round_runs_fresh()
    {
        var calls = 0;
        var coalescer = new ReadBarrierCoalescer(_ => Interlocked.Increment(ref calls) == 1
            ? Task.FromException(new ConsensusUnavailableException(ConsensusUnavailableReason.NoLeader, "no leader"))
            : Task.CompletedTask);
        await Assert.ThrowsAsync<ConsensusUnavailableException>(() => coalescer.WaitAsync(CancellationToken.None));
        await coalescer.WaitAsync(CancellationToken.None);
        Assert.Equal(2, calls);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10 s");
            await Task.Delay(5);
        }
    }
}

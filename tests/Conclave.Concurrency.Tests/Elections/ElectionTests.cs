using Conclave.Client;
using Conclave.Concurrency.Tests.Fixtures;

namespace Conclave.Concurrency.Tests.Elections;

/// <summary>The Election service through the SDK: campaign, proclaim, leader, observe, resign.</summary>
public sealed class ElectionTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Two_candidates_an_observer_proclaim_and_resign()
    {
        var name = Names.Unique("elect");
        await using var client = fixture.CreateClient();
        await using var observerClient = fixture.CreateClient();
        Assert.Null(await client.LeaderAsync(name));

        using var stopObserving = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var observed = new List<KeyValueEntry>();
        var observer = Task.Run(async () =>
        {
            await foreach (var leader in observerClient.ObserveAsync(name, stopObserving.Token))
            {
                lock (observed)
                {
                    observed.Add(leader);
                }
            }
        });

        await using var first = await client.CreateSessionAsync(30);
        await using var second = await client.CreateSessionAsync(30);
        var leading = await first.CampaignAsync(name, "first:1");
        var waiting = second.CampaignAsync(name, "second").AsTask();
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second candidate to queue");
        Assert.False(waiting.IsCompleted);

        await WaitForObservationsAsync(observed, 1);
        var current = await client.LeaderAsync(name);
        Assert.Equal(("first:1", leading.FencingToken, first.LeaseId), (current!.ValueString, current.CreateRevision, current.Lease));

        await leading.ProclaimAsync("first:2");
        Assert.Equal("first:2", (await client.LeaderAsync(name))!.ValueString);
        await WaitForObservationsAsync(observed, 2);
        Assert.True(await leading.PutIfLeaderAsync(name + "-config", "from first"));

        await leading.ResignAsync();
        await using var next = await waiting.WaitAsync(Deadline);
        Assert.True(next.FencingToken > leading.FencingToken);
        Assert.True(leading.LostToken.IsCancellationRequested);
        Assert.False(await leading.PutIfLeaderAsync(name + "-config", "stale"));
        await Assert.ThrowsAsync<LeadershipLostException>(async () => await leading.ProclaimAsync("first:3"));
        Assert.Equal("second", (await client.LeaderAsync(name))!.ValueString);

        await WaitForObservationsAsync(observed, 3);
        await stopObserving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => observer);
        string[] values;
        lock (observed)
        {
            values = [.. observed.Select(o => o.ValueString)];
        }

        Assert.Equal(["first:1", "first:2", "second"], values);
        Assert.Equal("from first", (await client.GetAsync(name + "-config")).First!.ValueString);
    }

    [Fact]
    public async Task Leadership_passes_on_when_the_leader_session_ends()
    {
        var name = Names.Unique("handover");
        await using var client = fixture.CreateClient();
        var first = await client.CreateSessionAsync(30);
        await using var second = await client.CreateSessionAsync(30);
        var leading = await first.CampaignAsync(name, "a");
        var waiting = second.CampaignAsync(name, "b").AsTask();
        await Eventually.WaitAsync(async ct => (await client.GetAsync(name + "/", new GetOptions { Prefix = true, CountOnly = true }, ct)).Count == 2, Deadline, "the second candidate to queue");

        // Closing the session revokes its lease: the leader key goes, and the next candidate wins.
        await first.DisposeAsync();

        await using var next = await waiting.WaitAsync(Deadline);
        Assert.Equal(LeaseLostReason.Closed, first.LostReason);
        await Eventually.WaitAsync(() => leading.LostToken.IsCancellationRequested, Deadline, "the old leadership to be reported lost");
        Assert.True(next.FencingToken > leading.FencingToken);
        Assert.Equal("b", (await client.LeaderAsync(name))!.ValueString);
    }

    // Each change waits for the observer: an observer reports the leader's latest state, so two changes made
    // before it looks may reach it as one.
    private static Task WaitForObservationsAsync(List<KeyValueEntry> observed, int count) =>
        Eventually.WaitAsync(() => { lock (observed) { return observed.Count >= count; } }, Deadline, $"the observer to see {count} leader value(s)");
}

using System.Diagnostics;

namespace Conclave.Cluster.Tests;

public sealed class RaftNodeTests : IAsyncLifetime
{
    private readonly TestMember member = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    [Fact]
    public async Task OneMemberStartsAsLeader()
    {
        await using var node = await member.StartAsync(new RecordingStateMachine());

        await TestMember.WaitUntilAsync(() => node.Status.LeaderId != 0, "a leader");
        var status = node.Status;
        Assert.True(node.IsLeader);
        Assert.Equal(status.MemberId, status.LeaderId);
        Assert.NotEqual(0UL, status.ClusterId);
        Assert.True(status.Term >= 1);
        var self = Assert.Single(status.Members);
        Assert.Equal("m1", self.Name);
        Assert.Equal(status.MemberId, self.Id);
        Assert.Equal([$"http://{member.Options.PeerEndpoint}"], self.PeerUrls);
        Assert.Equal(["http://127.0.0.1:2379"], self.ClientUrls);

        // The leadership names its term and is followed by a token that ends with it.
        var leadership = node.Leadership;
        Assert.True(leadership.IsHeld);
        Assert.Equal((long)node.Term, leadership.Term);
        Assert.False(leadership.Token.IsCancellationRequested);
    }

    [Fact]
    public async Task ProposalsReturnTheirResults()
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);

        Assert.Equal(1L, await node.ProposeAsync(RecordingStateMachine.Put("a")));
        Assert.Equal(2L, await node.ProposeAsync(RecordingStateMachine.Put("b")));
        Assert.Equal(3L, await node.ProposeAsync(RecordingStateMachine.Put("c")));
        Assert.Equal(["a", "b", "c"], machine.Keys);
        var status = node.Status;
        Assert.True(status.AppliedIndex >= machine.AppliedIndex);
        Assert.True(status.CommitIndex >= status.AppliedIndex);
    }

    [Fact]
    public async Task ConcurrentProposalsShareLogEntries()
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);

        var proposals = Enumerable.Range(0, 1000)
            .Select(i => node.ProposeAsync(RecordingStateMachine.Put($"k{i}")).AsTask())
            .ToArray();
        var results = await Task.WhenAll(proposals);

        // Every proposer gets the result of its own command.
        Assert.Equal(Enumerable.Range(1, 1000).Select(static i => (object?)(long)i), results.Order());
        var keys = machine.Keys;
        for (var i = 0; i < proposals.Length; i++)
        {
            Assert.Equal($"k{i}", keys[(int)(long)results[i]! - 1]);
        }

        var entries = machine.Entries;
        Assert.Equal(1000, entries.Sum(static e => e.Commands));
        Assert.True(entries.Count <= 100, $"1000 proposals took {entries.Count} log entries");
    }

    [Fact]
    public async Task RestartReplaysTheLog()
    {
        var before = new RecordingStateMachine();
        ulong term;
        await using (var node = await member.StartAsync(before))
        {
            await Task.WhenAll(Enumerable.Range(0, 200).Select(i => node.ProposeAsync(RecordingStateMachine.Put($"k{i}")).AsTask()));
            term = node.Status.Term;
        }

        var after = new RecordingStateMachine();
        await using var restarted = await member.StartAsync(after);

        // Everything acknowledged before the restart is applied before StartAsync returns.

        Assert.Equal(before.Keys, after.Keys);
        Assert.Equal(0, after.RestoreCount);
        Assert.Equal(201L, await restarted.ProposeAsync(RecordingStateMachine.Put("next")));
        Assert.True(restarted.Status.Term > term);
    }

    [Fact]
    public async Task ReadBarrierCoversEveryCommittedEntry()
    {
        var machine = new RecordingStateMachine();
        await using var node = await member.StartAsync(machine);
        var writes = Enumerable.Range(0, 50).Select(i => node.ProposeAsync(RecordingStateMachine.Put($"k{i}")).AsTask()).ToArray();
        await Task.WhenAll(writes);

        var committed = node.Status.CommitIndex;
        await node.ReadBarrierAsync();

        Assert.True(node.Status.AppliedIndex >= committed);
        Assert.Equal(50, machine.Keys.Count);
    }

    [Fact]
    public async Task StopsQuicklyAndRefusesProposalsAfterwards()
    {
        var node = await member.StartAsync(new RecordingStateMachine());
        await node.ProposeAsync(RecordingStateMachine.Put("a"));

        var watch = Stopwatch.StartNew();
        await node.DisposeAsync();
        Assert.True(watch.ElapsedMilliseconds < 1000, $"stopping took {watch.ElapsedMilliseconds} ms");
        Assert.True(node.Stopping.IsCancellationRequested);

        await Assert.ThrowsAsync<ConsensusUnavailableException>(async () => await node.ProposeAsync(RecordingStateMachine.Put("b")));
        await Assert.ThrowsAsync<ConsensusUnavailableException>(async () => await node.ReadBarrierAsync());
    }
}

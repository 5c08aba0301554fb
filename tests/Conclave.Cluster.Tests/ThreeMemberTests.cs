namespace Conclave.Cluster.Tests;

/// <summary>
/// Smoke test of the multi-member path (forwarding: <see cref="ForwardingTests"/>): three members elect a
/// leader, replicate, and a member that was down catches up by snapshot.
/// </summary>
public sealed class ThreeMemberTests : IAsyncLifetime
{
    private readonly List<TestMember> members = [];

    public Task InitializeAsync()
    {
        members.AddRange(TestMember.Cluster(3, static o => o with
        {
            SnapshotInterval = 20,
            MaxBatchCommands = 2,
            // A proposal made on a member that just lost the lead is forwarded to the next one, but may end with an
            // unknown outcome: let it fail soon instead of after the default 10 s (see the proposal loop below).
            ProposalTimeout = TimeSpan.FromSeconds(3),
        }).Members);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task MembersElectReplicateAndCatchUpBySnapshot()
    {
        var machines = members.Select(_ => new RecordingStateMachine()).ToArray();
        var nodes = new RaftNode?[3];
        nodes[0] = await members[0].StartAsync(machines[0]);
        nodes[1] = await members[1].StartAsync(machines[1]);

        await TestMember.WaitUntilAsync(() => nodes.Any(n => n?.IsLeader == true), "a leader of two members", 10_000);
        var leader = nodes.First(n => n?.IsLeader == true)!;
        var ids = nodes.Where(n => n is not null).Select(n => n!.Status).ToArray();
        // Election safety as the leadership API shows it: no two members hold a leadership of the same term.
        Assert.All(
            nodes.Where(n => n is not null).Select(n => n!.Leadership).Where(l => l.IsHeld).GroupBy(l => l.Term),
            g => Assert.Single(g));
        Assert.All(ids, s => Assert.Equal(leader.Status.MemberId, s.LeaderId));
        Assert.Equal(3, leader.Status.Members.Count);

        // Enough entries for snapshots to truncate the log behind them, while m2 is down. Each round goes to the member
        // leading now: on a loaded machine (CI runs test assemblies side by side) two members can change leaders, and
        // proposals on the old one then end with an unknown outcome (seen once in CI), which this test need not know.
        RaftNode Leader() => nodes.First(n => n?.IsLeader == true)!;
        for (var round = 0; round < 40; round++)
        {
            await TestMember.WaitUntilAsync(() => nodes.Any(n => n?.IsLeader == true), "a leader", 10_000);
            var current = Leader();
            try
            {
                await Task.WhenAll(Enumerable.Range(0, 4).Select(i => current.ProposeAsync(RecordingStateMachine.Put($"k{round}-{i}")).AsTask()));
            }
            catch (ConsensusUnavailableException)
            {
                round--; // again, on the new leader
            }
        }

        await TestMember.WaitUntilAsync(() => nodes.Any(n => n?.IsLeader == true && n.SnapshotIndex >= 40), "a snapshot on the leader", 10_000);

        nodes[2] = await members[2].StartAsync(machines[2]);
        await TestMember.WaitUntilAsync(() => nodes.Any(n => n?.IsLeader == true), "a leader", 10_000);
        leader = Leader();
        await leader.ReadBarrierAsync();
        var expected = machines[Array.IndexOf(nodes, leader)].Keys;
        await TestMember.WaitUntilAsync(() => machines[2].Keys.Count == expected.Count, "m2 to catch up", 10_000);
        Assert.Equal(expected, machines[2].Keys);
        Assert.Equal(1, machines[2].RestoreCount);
    }
}

using Conclave.Cluster.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// Forwarding and follower reads between in-process members, without the server: Conclave.Cluster owns both sides
/// of the request channel (ADR 0013).
/// </summary>
public sealed class ForwardingTests : IAsyncLifetime
{
    private readonly List<TestMember> members = [];
    private readonly RecordingStateMachine[] machines = [new(), new(), new()];
    private readonly RaftNode?[] nodes = new RaftNode?[3];

    public async Task InitializeAsync()
    {
        members.AddRange(TestMember.Cluster(3).Members);
        for (var i = 0; i < 3; i++)
        {
            nodes[i] = await members[i].StartAsync(machines[i]);
        }

        await WaitForLeaderAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    private async Task<int> WaitForLeaderAsync()
    {
        // A leader every running member names, which has taken office.
        await TestMember.WaitUntilAsync(
            () => Leader() is { } l && nodes[l]!.IsLeader && nodes.All(n => n is null || n.Status.LeaderId == nodes[l]!.Status.MemberId),
            "a leader all running members know", 15_000);
        return Leader()!.Value;
    }

    private int? Leader()
    {
        for (var i = 0; i < nodes.Length; i++)
        {
            if (nodes[i]?.IsLeader == true)
            {
                return i;
            }
        }

        return null;
    }

    private int Follower(int leader) => Enumerable.Range(0, 3).First(i => i != leader && nodes[i] is not null);

    [Fact]
    public async Task A_proposal_on_a_follower_is_forwarded_and_applied_on_every_member()
    {
        var leader = await WaitForLeaderAsync();
        var follower = nodes[Follower(leader)]!;

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => follower.ProposeAsync(RecordingStateMachine.Put($"f{i}")).AsTask()));

        Assert.Equal(20, results.Distinct().Count());
        await TestMember.WaitUntilAsync(() => machines.All(m => m.Keys.Count(k => k.StartsWith('f')) == 20), "every member applied the forwarded writes", 10_000);
        Assert.Equal(machines[leader].Keys, machines[Follower(leader)].Keys);
    }

    [Fact]
    public async Task A_follower_read_barrier_sees_every_write_committed_before_it()
    {
        var leader = await WaitForLeaderAsync();
        var followerIndex = Follower(leader);
        for (var i = 0; i < 10; i++)
        {
            await nodes[leader]!.ProposeAsync(RecordingStateMachine.Put($"r{i}"));

            // No waiting for replication: the barrier asks the leader for its commit index and applies up to it.
            await nodes[followerIndex]!.ReadBarrierAsync();
            Assert.Contains($"r{i}", machines[followerIndex].Keys);
        }
    }

    [Fact]
    public async Task A_member_that_does_not_lead_answers_a_forwarded_batch_with_not_applied()
    {
        var leader = await WaitForLeaderAsync();
        var followerIndex = Follower(leader);
        var other = Enumerable.Range(0, 3).First(i => i != leader && i != followerIndex);
        await using var clients = new PeerRequestClients(PeerRequestOptions.For(members[0].Options), new ClusterMetrics(() => 0, () => 0, () => 0), NullLogger.Instance);

        // A batch as a follower forwards it, sent to another follower as if it still led.
        var batch = ProposalBatch.Create([new Proposal(RecordingStateMachine.Put("stale"), RecordingStateMachine.Put("stale").CalculateSize())], nodes[other]!.Status.MemberId, 1);
        try
        {
            var refused = await Assert.ThrowsAsync<ConsensusUnavailableException>(() =>
                clients.ProposeAsync(members[followerIndex].Options.PeerEndpoint, nodes[other]!.Status.MemberId, batch.Payload, CancellationToken.None));
            Assert.True(refused.NotApplied);
            Assert.Equal(ConsensusUnavailableReason.NotLeader, refused.Reason);

            var read = await Assert.ThrowsAsync<ConsensusUnavailableException>(() =>
                clients.ReadIndexAsync(members[followerIndex].Options.PeerEndpoint, nodes[other]!.Status.MemberId, CancellationToken.None));
            Assert.True(read.NotApplied);
        }
        finally
        {
            batch.ReleasePayload();
        }

        Assert.DoesNotContain("stale", machines[leader].Keys);
    }

    [Fact]
    public async Task Proposals_on_a_follower_go_to_the_next_leader_when_the_leader_stops()
    {
        var leader = await WaitForLeaderAsync();
        var followerIndex = Follower(leader);
        var follower = nodes[followerIndex]!;
        await follower.ProposeAsync(RecordingStateMachine.Put("before"));

        await nodes[leader]!.DisposeAsync();
        nodes[leader] = null;

        // Made at once: the follower still names the stopped leader; its requests fail as never sent (or not applied)
        // and are sent again to the next leader.
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => follower.ProposeAsync(RecordingStateMachine.Put($"after{i}")).AsTask()));
        Assert.Equal(10, results.Distinct().Count());
        var next = await WaitForLeaderAsync();
        Assert.NotEqual(leader, next);
        var survivors = Enumerable.Range(0, 3).Where(i => i != leader).ToArray();
        await TestMember.WaitUntilAsync(
            () => survivors.All(i => Enumerable.Range(0, 10).All(k => machines[i].Keys.Contains($"after{k}"))), "both survivors applied every write", 10_000);
        Assert.Equal(machines[survivors[0]].Keys, machines[survivors[1]].Keys);
    }

    [Fact]
    public async Task A_dropped_connection_to_the_leader_is_opened_again()
    {
        var leader = await WaitForLeaderAsync();
        var followerIndex = Follower(leader);
        var follower = nodes[followerIndex]!;
        await follower.ProposeAsync(RecordingStateMachine.Put("first"));
        await follower.ReadBarrierAsync();

        var client = follower.RequestClients.For(members[leader].Options.PeerEndpoint);
        for (var round = 0; round < 3; round++)
        {
            client.DropConnection();
            await follower.ProposeAsync(RecordingStateMachine.Put($"again{round}"));
            client.DropConnection();
            await follower.ReadBarrierAsync();
            Assert.Contains($"again{round}", machines[followerIndex].Keys);
        }
    }
}

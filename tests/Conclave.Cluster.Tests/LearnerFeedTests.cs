using System.Collections.Concurrent;
using System.Net;
using Conclave.Api.ClusterInternal;
using Conclave.Api.Errors;
using Conclave.Cluster.Peers;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// Learners between in-process members, without the server: the feed, its admission, "learners do not vote or take
/// writes", and promotion all run on Conclave.Cluster's request channel (ADR 0013). The learner records RecordedMembership keeps
/// in the system keyspace are an in-memory directory here.
/// </summary>
public sealed class LearnerFeedTests : IAsyncLifetime
{
    private readonly List<TestMember> members = [];
    private readonly List<RecordingStateMachine> machines = [];
    private readonly List<RaftNode?> nodes = [];
    private readonly Directory directory = new();
    private readonly ClusterFaults faults = new();
    private IReadOnlyDictionary<string, string> initial = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        // Small snapshots: the learner below starts behind the compacted log and needs one first.
        (var cluster, initial) = TestMember.Cluster(3, o => o with { SnapshotInterval = 40, Faults = faults });
        members.AddRange(cluster);
        for (var i = 0; i < 3; i++)
        {
            machines.Add(new RecordingStateMachine());
            nodes.Add(await members[i].StartAsync(machines[i]));
            nodes[i]!.Membership.ServeLearners(directory);
        }

        await LeaderAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var member in members)
        {
            await member.DisposeAsync();
        }
    }

    private async Task<int> LeaderAsync()
    {
        await TestMember.WaitUntilAsync(
            () => Leader() is { } l && nodes.Take(3).All(n => n is null || n.Status.LeaderId == nodes[l]!.Status.MemberId),
            "a leader all voting members know", 15_000);
        return Leader()!.Value;
    }

    /// <summary>
    /// Adds a member as a learner through <paramref name="leader"/> (the application records it), then starts it to
    /// join, as etcdctl member add --learner and a new member's start do. It is member, machine and node 3.
    /// </summary>
    private async Task<(MemberInfo Added, string PeerUrl, RaftNode Learner)> AddLearnerAsync(int leader)
    {
        var port = TestMember.FreePort();
        var peerUrl = $"http://127.0.0.1:{port}";
        var added = await nodes[leader]!.Membership.AddMemberAsync(peerUrl, isLearner: true, CancellationToken.None);
        directory.Learners[added.Id] = null;
        var learnerMember = new TestMember(o => o with
        {
            MemberName = "learner",
            PeerEndpoint = new IPEndPoint(IPAddress.Loopback, port),
            InitialCluster = new Dictionary<string, string>(initial) { ["learner"] = peerUrl },
            JoinExisting = true,
            ClientUrls = ["http://127.0.0.1:1"],
        });
        members.Add(learnerMember);
        machines.Add(new RecordingStateMachine());
        var learner = await learnerMember.StartAsync(machines[3]);
        nodes.Add(learner);
        return (added, peerUrl, learner);
    }

    private int? Leader() => nodes.FindIndex(n => n?.IsLeader == true) is var i and >= 0 ? i : null;

    [Fact]
    public async Task A_learner_follows_the_log_takes_no_writes_and_is_promoted_to_a_voter()
    {
        var leader = await LeaderAsync();
        for (var i = 0; i < 120; i++)
        {
            await nodes[leader]!.ProposeAsync(RecordingStateMachine.Put($"before/{i:d3}"));
        }

        var (added, peerUrl, learner) = await AddLearnerAsync(leader);
        Assert.True(added.IsLearner);
        learner.Membership.ServeLearners(directory);

        await TestMember.WaitUntilAsync(() => machines[3].Keys.Count(k => k.StartsWith("before/", StringComparison.Ordinal)) == 120, "the learner to hold the writes made before it started", 30_000);
        Assert.True(learner.IsLearner);
        Assert.True(machines[3].RestoreCount >= 1, "the learner started behind the compacted log: it installed the leader's snapshot");
        Assert.Equal(3, nodes[leader]!.Status.Members.Count);

        // It reported how it is listed when it asked for its feed.
        Assert.Equal("learner", directory.Learners[added.Id]?.Name);

        // A learner takes no writes: a proposal made there is refused, and nothing reaches the log.
        var refused = await Assert.ThrowsAsync<ConclaveErrorException>(async () => await learner.ProposeAsync(RecordingStateMachine.Put("on-learner")));
        Assert.Equal(ErrorCode.NotSupportedForLearner, refused.Code);

        // Writes after it started reach it too (through a follower: forwarded to the leader).
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        for (var i = 0; i < 10; i++)
        {
            await nodes[follower]!.ProposeAsync(RecordingStateMachine.Put($"after/{i}"));
        }

        await TestMember.WaitUntilAsync(() => machines[3].Keys.Count(k => k.StartsWith("after/", StringComparison.Ordinal)) == 10, "the learner to follow new writes", 10_000);

        // Promotion: when it returns, the member is a voter that takes writes, and every member has 4 in its configuration.
        await nodes[leader]!.Membership.PromoteLearnerAsync(added.Id, peerUrl, CancellationToken.None);
        directory.Learners.TryRemove(added.Id, out _);
        Assert.False(learner.IsLearner);
        await TestMember.WaitUntilAsync(() => nodes.All(n => n!.Status.Members.Count == 4), "every member to have the 4-member configuration", 20_000);
        await learner.ProposeAsync(RecordingStateMachine.Put("promoted/write"));
        await TestMember.WaitUntilAsync(() => machines.All(m => m.Keys.Contains("promoted/write")), "the promoted member's write to reach every member", 10_000);
        Assert.DoesNotContain("on-learner", machines[leader].Keys);
    }

    [Fact]
    public async Task A_learner_told_of_a_snapshot_its_leader_no_longer_holds_asks_again_and_catches_up()
    {
        var leader = await LeaderAsync();
        for (var i = 0; i < 120; i++)
        {
            await nodes[leader]!.ProposeAsync(RecordingStateMachine.Put($"before/{i:d3}"));
        }

        // Every image up to the newest now is "gone" when fetched, as if a newer snapshot replaced it between the
        // description and the fetch; only snapshots taken from here on can be had.
        var newest = members.Take(3).Max(m => SnapshotFile.List(Path.Combine(m.DataDirectory, "snap")).Max(static f => f.Index));
        faults.SnapshotsGoneThrough = newest;

        await AddLearnerAsync(leader);

        // Writes go on; once the leader holds a newer snapshot, the learner must be told of it and install it, not keep
        // asking for the image it was first told of.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var written = 0;
        while (machines[3].Keys.Count(k => k.StartsWith("during/", StringComparison.Ordinal)) < written || written == 0)
        {
            Assert.False(stop.IsCancellationRequested, $"the learner did not catch up in 30 s ({machines[3].Keys.Count} keys, {machines[3].RestoreCount} snapshot(s) installed)");
            await nodes[leader]!.ProposeAsync(RecordingStateMachine.Put($"during/{written++:d4}"));
            if (written % 50 == 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(machines[3].RestoreCount >= 1);
        Assert.All(Enumerable.Range(0, 120), i => Assert.Contains($"before/{i:d3}", machines[3].Keys));
    }

    [Fact]
    public async Task The_leader_feeds_only_recorded_learners_and_only_while_it_leads()
    {
        var leader = await LeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        await using var clients = new PeerRequestClients(PeerRequestOptions.For(members[0].Options), new ClusterMetrics(() => 0, () => 0, () => 0), NullLogger.Instance);
        var stranger = new FollowRequest { MemberId = 0x42, CommittedIndex = 0, Name = "stranger" }.ToByteArray();

        // Not recorded as a learner: refused, and nothing of the log is sent.
        var unknown = await Assert.ThrowsAsync<MembershipException>(async () =>
            await clients.For(members[leader].Options.PeerEndpoint).SendAsync(PeerRequestKind.Follow, stranger, ReadOnlyMemory<byte>.Empty, CancellationToken.None));
        Assert.Equal(MembershipError.NotFound, unknown.Error);

        // A member that does not lead feeds nobody, recorded or not.
        directory.Learners[0x42] = null;
        var notLeader = await Assert.ThrowsAsync<ConsensusUnavailableException>(async () =>
            await clients.For(members[follower].Options.PeerEndpoint).SendAsync(PeerRequestKind.Follow, stranger, ReadOnlyMemory<byte>.Empty, CancellationToken.None));
        Assert.True(notLeader.NotApplied);

        // Recorded, asked of the leader: the entries after what it says it holds.
        await nodes[leader]!.ProposeAsync(RecordingStateMachine.Put("fed"));
        var answer = FollowResponse.Parser.ParseFrom((await clients.For(members[leader].Options.PeerEndpoint)
            .SendAsync(PeerRequestKind.Follow, stranger, ReadOnlyMemory<byte>.Empty, CancellationToken.None)));
        Assert.Equal(nodes[leader]!.Status.MemberId, answer.LeaderId);
        Assert.True(answer.Entries.Count > 0 || answer.SnapshotIndex > 0);
        Assert.All(answer.Entries, e => Assert.True(e.Index >= 1 && e.Index <= answer.CommitIndex));

        // How it is listed is recorded once, not on every request of its feed, and again only when it changes.
        async Task<byte[]> Ask(FollowRequest request) => await clients.For(members[leader].Options.PeerEndpoint)
            .SendAsync(PeerRequestKind.Follow, request.ToByteArray(), ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        var committed = answer.CommitIndex;
        await Ask(new FollowRequest { MemberId = 0x42, CommittedIndex = committed, Name = "stranger" });
        Assert.Equal(1, directory.Admits);
        await Ask(new FollowRequest { MemberId = 0x42, CommittedIndex = committed, Name = "renamed" });
        Assert.Equal(2, directory.Admits);
        Assert.Equal("renamed", directory.Learners[0x42]?.Name);

        // What a learner reports is replicated: oversized listings are refused and nothing is recorded.
        var huge = new FollowRequest { MemberId = 0x42, CommittedIndex = committed, Name = new string('n', 100_000) };
        await Assert.ThrowsAsync<ArgumentException>(() => Ask(huge));
        var many = new FollowRequest { MemberId = 0x42, CommittedIndex = committed, Name = "renamed" };
        many.ClientUrls.AddRange(Enumerable.Range(0, 1000).Select(i => $"http://10.0.0.1:{i}"));
        await Assert.ThrowsAsync<ArgumentException>(() => Ask(many));
        Assert.Equal(2, directory.Admits);
        Assert.Equal("renamed", directory.Learners[0x42]?.Name);
    }

    /// <summary>The application's learner records, in memory: id to how the learner last described itself.</summary>
    private sealed class Directory : ILearnerDirectory
    {
        private int admits;

        public ConcurrentDictionary<ulong, LearnerInfo?> Learners { get; } = new();

        /// <summary>How many times a listing was recorded.</summary>
        public int Admits => Volatile.Read(ref admits);

        public bool IsLearner(ulong memberId) => Learners.ContainsKey(memberId);

        public ValueTask AdmitAsync(LearnerInfo learner, CancellationToken cancellationToken)
        {
            if (!Learners.ContainsKey(learner.Id))
            {
                throw new MembershipException(MembershipError.NotFound, $"no learner has id {learner.Id:x}");
            }

            Learners[learner.Id] = learner;
            Interlocked.Increment(ref admits);
            return ValueTask.CompletedTask;
        }
    }
}

using System.Net;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Cluster.Tests;

/// <summary>
/// Membership changes between in-process members, without the server: voting members added and removed, a member added
/// under a leader that dies before it joins, and a learner promoted, through <see cref="RecordedMembership"/> over members
/// that each drive a key-value store (where the member records live, in the system keyspace).
/// </summary>
public sealed class MembershipChangeTests : IAsyncLifetime
{
    private const string JoiningPrefix = "cluster/joining/";
    private const string LearnersPrefix = "cluster/learners/";

    private readonly List<Running> running = [];
    private IReadOnlyDictionary<string, string> initial = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        (var cluster, initial) = TestMember.Cluster(3);
        foreach (var member in cluster)
        {
            running.Add(await Running.StartAsync(member));
        }

        await LeaderAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var member in running)
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_voting_member_added_joins_and_replicates()
    {
        var leader = await LeaderAsync();
        await PutAsync(leader, "before", 20);

        var (added, peerUrl, joiner) = await AddAsync(leader, isLearner: false);
        Assert.False(added.IsLearner);
        Assert.Equal(peerUrl, Assert.Single(added.PeerUrls));
        // Recorded as joining (so that a next leader continues), and listed while it joins.
        Assert.Contains(added.Id, Records(leader, JoiningPrefix));
        Assert.Contains(await leader.Membership!.MembersAsync(CancellationToken.None), m => m.Id == added.Id);

        await joiner.StartAsync();
        await TestMember.WaitUntilAsync(() => running.Where(r => r.Node is not null).All(r => r.Node!.Status.Members.Count == 4), "every member to have the 4-member configuration", 30_000);
        Assert.Equal(added.Id, joiner.Node!.Status.MemberId);

        // It holds what was written before it joined and takes part in what comes after.
        await PutAsync(await LeaderAsync(), "after", 5);
        var expected = (await LeaderAsync()).Store.KeyCount;
        await TestMember.WaitUntilAsync(() => joiner.Store.KeyCount == expected, "the new member to replicate every key", 20_000);
        await joiner.Node.ProposeAsync(Put("from-new-member"));

        // Joined: the keeper deletes the joining record, on every member.
        await TestMember.WaitUntilAsync(() => running.All(r => Records(r, JoiningPrefix).Count == 0), "the joining record to go", 20_000);
    }

    [Fact]
    public async Task A_member_is_removed_and_a_member_still_joining_is_removed_with_its_record()
    {
        var leader = await LeaderAsync();
        var follower = running.First(r => r != leader && r.Node is not null);
        var followerId = follower.Node!.Status.MemberId;

        await leader.Membership!.RemoveAsync(followerId, CancellationToken.None);
        await TestMember.WaitUntilAsync(() => follower.Node.Removed.IsCancellationRequested, "the removed member to learn it was removed", 20_000);
        await TestMember.WaitUntilAsync(
            () => running.Where(r => r != follower).All(r => r.Node!.Status.Members.Count == 2 && r.Node.Status.Members.All(m => m.Id != followerId)),
            "the others to have the 2-member configuration", 20_000);
        Assert.DoesNotContain(await leader.Membership.MembersAsync(CancellationToken.None), m => m.Id == followerId);

        // Added, never started: removing it ends the joining and deletes its record.
        leader = await LeaderAsync();
        var (added, _, _) = await AddAsync(leader, isLearner: false);
        Assert.Contains(added.Id, Records(leader, JoiningPrefix));
        await leader.Membership!.RemoveAsync(added.Id, CancellationToken.None);
        Assert.DoesNotContain(added.Id, Records(leader, JoiningPrefix));
        Assert.DoesNotContain(await leader.Membership.MembersAsync(CancellationToken.None), m => m.Id == added.Id);
    }

    [Fact]
    public async Task A_member_added_under_a_leader_that_dies_before_it_joins_is_added_by_the_next_leader()
    {
        var leader = await LeaderAsync();
        var (added, _, joiner) = await AddAsync(leader, isLearner: false);
        await TestMember.WaitUntilAsync(() => running.Take(3).All(r => Records(r, JoiningPrefix).Contains(added.Id)), "every member to hold the joining record", 10_000);

        // The leader dies without handing the joining member over: only the replicated record is left.
        await leader.StopAsync();
        var next = await LeaderAsync();
        Assert.NotSame(leader, next);

        // The next leader's first round found the record and handed the member to its consensus layer.
        await TestMember.WaitUntilAsync(() => next.Logs.Records.Any(r => r.EventId.Id == 2130 && r.Message.Contains(added.Id.ToString("x"), StringComparison.Ordinal)), "the next leader to resume the addition", 20_000);
        await joiner.StartAsync();
        await TestMember.WaitUntilAsync(() => next.Node!.Status.Members.Any(m => m.Id == added.Id), "the next leader to add the new member", 30_000);
        await joiner.Node!.ProposeAsync(Put("from-new-member"));
        await TestMember.WaitUntilAsync(() => Records(next, JoiningPrefix).Count == 0, "the joining record to go", 20_000);
    }

    [Fact]
    public async Task A_learner_is_added_follows_and_is_promoted_and_its_record_goes()
    {
        var leader = await LeaderAsync();
        await PutAsync(leader, "before", 20);

        var (added, _, learner) = await AddAsync(leader, isLearner: true);
        Assert.True(added.IsLearner);
        Assert.Contains(added.Id, Records(leader, LearnersPrefix));
        await learner.StartAsync();

        var expected = leader.Store.KeyCount;
        await TestMember.WaitUntilAsync(() => learner.Store.KeyCount == expected, "the learner to follow the log", 30_000);
        Assert.True(learner.Node!.IsLearner);
        Assert.Equal(3, leader.Node!.Status.Members.Count);
        // Listed as a learner, under the name it reported when it asked for its feed.
        await TestMember.WaitUntilAsync(() => leader.Membership!.Learners().Any(l => l.Id == added.Id && l.Name == "m3"), "the learner to be listed by name", 10_000);
        Assert.Contains(await leader.Membership!.MembersAsync(CancellationToken.None), m => m.Id == added.Id && m.IsLearner);

        // Promotion of a voting member is refused as etcd refuses it.
        var voter = await Assert.ThrowsAsync<MembershipException>(async () => await leader.Membership.PromoteAsync(leader.Node.Status.MemberId, CancellationToken.None));
        Assert.Equal(MembershipError.NotLearner, voter.Error);

        await PromoteWhenReadyAsync(leader, added.Id);
        Assert.False(learner.Node.IsLearner);
        Assert.Empty(Records(leader, LearnersPrefix));
        await TestMember.WaitUntilAsync(() => running.All(r => r.Node!.Status.Members.Count == 4), "every member to have the 4-member configuration", 20_000);
        await TestMember.WaitUntilAsync(() => running.All(r => Records(r, LearnersPrefix).Count == 0), "the learner record to go on every member", 10_000);
        Assert.Contains(await leader.Membership.MembersAsync(CancellationToken.None), m => m.Id == added.Id && !m.IsLearner);
        await learner.Node.ProposeAsync(Put("from-promoted"));
    }

    /// <summary>Promotes once the learner follows this leader closely enough (it asks for its feed on its own schedule).</summary>
    private static async Task PromoteWhenReadyAsync(Running leader, ulong id)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                await leader.Membership!.PromoteAsync(id, CancellationToken.None);
                return;
            }
            catch (MembershipException e) when (e.Error == MembershipError.LearnerNotReady && !deadline.IsCancellationRequested)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>
    /// Adds a member through <paramref name="leader"/>, as etcdctl member add does; the member (m3) is made, not started.
    /// </summary>
    private async Task<(MemberInfo Added, string PeerUrl, Running Member)> AddAsync(Running leader, bool isLearner)
    {
        var port = TestMember.FreePort();
        var peerUrl = $"http://127.0.0.1:{port}";
        var added = await leader.Membership!.AddAsync(peerUrl, isLearner, CancellationToken.None);
        var member = new Running(new TestMember(o => o with
        {
            MemberName = "m3",
            PeerEndpoint = new IPEndPoint(IPAddress.Loopback, port),
            InitialCluster = new Dictionary<string, string>(initial) { ["m3"] = peerUrl },
            JoinExisting = true,
        }));
        running.Add(member);
        return (added, peerUrl, member);
    }

    /// <summary>The leader every running voting member knows.</summary>
    private async Task<Running> LeaderAsync()
    {
        Running? leader = null;
        await TestMember.WaitUntilAsync(
            () =>
            {
                leader = running.FirstOrDefault(r => r.Node?.Leadership.IsHeld == true);
                return leader is not null && running.Where(r => r.Node is not null && !r.Node.IsLearner && !r.Node.Removed.IsCancellationRequested && r.Node.Status.Members.Count > 0)
                    .All(r => r.Node!.Status.LeaderId == leader.Node!.Status.MemberId);
            },
            "a leader all running members know",
            20_000);
        return leader!;
    }

    private static async Task PutAsync(Running leader, string prefix, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await leader.Node!.ProposeAsync(Put($"{prefix}/{i:d3}"));
        }
    }

    private static Command Put(string key) =>
        new() { Put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("v") } };

    /// <summary>The ids recorded under <paramref name="prefix"/> in a member's system keyspace (the on-disk key format).</summary>
    private static List<ulong> Records(Running member, string prefix)
    {
        var start = ByteString.CopyFromUtf8(prefix);
        var end = ByteString.CopyFromUtf8(prefix[..^1] + (char)(prefix[^1] + 1));
        var kvs = member.Store.SystemKeyspace.Range(new RangeRequest { Key = start, RangeEnd = end }).Kvs;
        return [.. kvs.Select(kv =>
        {
            var id = ulong.Parse(kv.Key.ToStringUtf8()[prefix.Length..], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(id, Member.Parser.ParseFrom(kv.Value).ID);
            return id;
        })];
    }

    /// <summary>A member with its store, its node once started, and the membership over both.</summary>
    private sealed class Running(TestMember member) : IAsyncDisposable
    {
        public TestMember Member { get; } = member;

        public KeyValueStore Store { get; } = new();

        public RaftNode? Node { get; private set; }

        public RecordedMembership? Membership { get; private set; }

        /// <summary>What the membership logged.</summary>
        public RecordingLoggerFactory Logs { get; } = new();

        public static async Task<Running> StartAsync(TestMember member)
        {
            var running = new Running(member);
            await running.StartAsync();
            return running;
        }

        public async Task StartAsync()
        {
            Node = await Member.StartAsync(new StoreStateMachine(Store));
            Membership = new RecordedMembership(Node, Store, TimeProvider.System, Logs.CreateLogger(nameof(RecordedMembership)));
        }

        /// <summary>Stops the member as a crash would look to the others (no hand-over); it stays stopped.</summary>
        public async Task StopAsync()
        {
            if (Membership is not null)
            {
                await Membership.DisposeAsync();
                Membership = null;
            }

            if (Node is not null)
            {
                await Node.DisposeAsync();
            }

            Node = null;
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            await Member.DisposeAsync();
            Store.Dispose();
        }
    }
}

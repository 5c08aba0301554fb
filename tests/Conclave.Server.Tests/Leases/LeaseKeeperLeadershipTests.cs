using System.Reflection;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Cluster;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Conclave.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Tests.Leases;

/// <summary>
/// The leader's lease clock belongs to one leadership. A member that loses the lead and regains it between two expiry
/// checks must treat it as a leader change (every lease gets its full TTL again): meanwhile the client may have renewed
/// through the other leader, which this member never heard of. Polling an "is leader" flag misses that; the term does not.
/// </summary>
public sealed class LeaseKeeperLeadershipTests
{
    [Fact]
    public async Task A_lease_is_not_expired_when_this_member_lost_and_regained_the_lead_between_two_checks()
    {
        var time = new ManualTime();
        var consensus = ScriptedConsensus.Create();
        await using var node = MemberWithLease(time, consensus);
        var keeper = new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance);

        var first = new CancellationTokenSource();
        ScriptedConsensus.Of(consensus).Leadership = new Leadership(2, first.Token);
        await keeper.CheckAsync(CancellationToken.None);
        Assert.Equal(10, keeper.Renew(7)); // renewed at t=0: due at t=10

        // The lead moves away and comes back (term 4) between two checks; the client renews with the other leader at
        // t=9, which this member does not see.
        await first.CancelAsync();
        ScriptedConsensus.Of(consensus).Leadership = new Leadership(4, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(11));

        await keeper.CheckAsync(CancellationToken.None);

        Assert.Empty(ScriptedConsensus.Of(consensus).Proposed); // no revoke
        Assert.Equal(10, keeper.RemainingSeconds(7));
    }

    [Fact]
    public async Task A_lease_this_leader_stopped_hearing_about_expires_within_the_same_leadership()
    {
        // The other side of the same rule: within one leadership the clock runs, so the check above is not simply off.
        var time = new ManualTime();
        var consensus = ScriptedConsensus.Create();
        await using var node = MemberWithLease(time, consensus);
        var keeper = new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance);

        ScriptedConsensus.Of(consensus).Leadership = new Leadership(2, CancellationToken.None);
        await keeper.CheckAsync(CancellationToken.None);
        Assert.Equal(10, keeper.Renew(7));
        time.Advance(TimeSpan.FromSeconds(11));

        await keeper.CheckAsync(CancellationToken.None);

        var revoke = Assert.Single(ScriptedConsensus.Of(consensus).Proposed);
        Assert.Equal(7, revoke.LeaseRevoke.ID);
    }

    /// <summary>A member over <paramref name="consensus"/> whose store holds lease 7 with a 10 s TTL.</summary>
    private static ConclaveNode MemberWithLease(TimeProvider time, IConsensus consensus)
    {
        var store = new KeyValueStore(new StoreLimits());
        store.Apply(1, KeyValueStore.Encode([new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 10 } }]));
        var options = new ServerOptions { TimeProvider = time, LeaseLeaderChangeExtension = TimeSpan.FromSeconds(1) };
        return ConclaveNode.Create(options, store, consensus, NullLoggerFactory.Instance); // disposing the member disposes the store
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => now;

        public void Advance(TimeSpan by) => now += by;
    }

    /// <summary>
    /// A consensus whose leadership the test sets; proposals are recorded and answered as the state machine would answer a
    /// revoke. Everything else throws: these tests must not need it.
    /// </summary>
    /// <summary>Membership of a member nobody joins: registering a learner directory is all it takes.</summary>
    public class NoMembership : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "ServeLearners" => null,
            _ => throw new NotSupportedException($"{targetMethod?.Name} is not scripted"),
        };
    }

    public class ScriptedConsensus : DispatchProxy
    {
        public Leadership Leadership { get; set; } = Leadership.None;

        public List<Command> Proposed { get; } = [];

        public static IConsensus Create() => DispatchProxy.Create<IConsensus, ScriptedConsensus>();

        public static ScriptedConsensus Of(IConsensus consensus) => (ScriptedConsensus)(object)consensus;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            switch (targetMethod?.Name)
            {
                case "get_Leadership":
                    return Leadership;
                case "get_IsLeader":
                    return Leadership.IsHeld;
                case "get_Status":
                    var leader = Leadership.IsHeld ? 1UL : 2UL;
                    return new ConsensusStatus(1, 1, leader, (ulong)Math.Max(Leadership.Term, 1), 1, 1, []);
                case "get_ClusterId":
                    return 1UL;
                case "get_Term":
                    return (ulong)Math.Max(Leadership.Term, 1);
                case "ProposeAsync":
                    var command = (Command)args![0]!;
                    Proposed.Add(command);
                    return new ValueTask<object?>(new LeaseRevokeResponse { Header = new ResponseHeader() });
                case "DisposeAsync":
                    return ValueTask.CompletedTask;
                case "WaitForLeadershipAsync":
                    // Never elected here: the member-record keeper waits until the member stops.
                    return new ValueTask<Leadership>(Task.Delay(Timeout.Infinite, (CancellationToken)args![0]!).ContinueWith(static _ => Leadership.None, TaskScheduler.Default));
                case "get_Stopping":
                    return CancellationToken.None;
                case "get_Membership":
                    return DispatchProxy.Create<IMembership, NoMembership>();
                default:
                    throw new NotSupportedException($"{targetMethod?.Name} is not scripted");
            }
        }
    }
}

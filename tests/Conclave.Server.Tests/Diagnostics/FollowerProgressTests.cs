using Conclave.Server.Diagnostics;

namespace Conclave.Server.Tests.Diagnostics;

public sealed class FollowerProgressTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_follower_that_applies_old_commit_points_in_time_is_not_stalled_even_while_behind()
    {
        var p = new FollowerProgress(TimeSpan.FromSeconds(10));
        for (var s = 0; s <= 30; s += 2)
        {
            // The leader commits 100 entries per second; the follower is always 5 s behind but moving.
            p.Observe(T0.AddSeconds(s), leaderCommit: 100 * s, applied: Math.Max(0, 100 * (s - 5)));
            Assert.False(p.Stalled);
        }

        Assert.Equal(500, p.Lag);
    }

    [Fact]
    public void A_follower_whose_applied_index_stops_while_the_leader_commits_is_stalled_after_the_threshold_and_recovers()
    {
        var p = new FollowerProgress(TimeSpan.FromSeconds(10));
        for (var s = 0; s <= 8; s += 2)
        {
            p.Observe(T0.AddSeconds(s), leaderCommit: 100 + s, applied: 100);
            Assert.False(p.Stalled);
        }

        p.Observe(T0.AddSeconds(12), leaderCommit: 112, applied: 100);
        Assert.True(p.Stalled);
        Assert.Equal(12, p.Lag);

        p.Observe(T0.AddSeconds(14), leaderCommit: 114, applied: 114);
        Assert.False(p.Stalled);
    }

    [Fact]
    public void An_idle_cluster_never_looks_stalled()
    {
        var p = new FollowerProgress(TimeSpan.FromSeconds(10));
        for (var s = 0; s <= 60; s += 2)
        {
            p.Observe(T0.AddSeconds(s), leaderCommit: 42, applied: 42);
            Assert.False(p.Stalled);
        }
    }

    [Fact]
    public void Reset_forgets_everything_when_this_member_leads_or_knows_no_leader()
    {
        var p = new FollowerProgress(TimeSpan.FromSeconds(1));
        p.Observe(T0, 10, 0);
        p.Observe(T0.AddSeconds(2), 10, 0);
        Assert.True(p.Stalled);
        p.Reset();
        Assert.False(p.Stalled);
        Assert.Equal(0, p.Lag);
    }
}

namespace Conclave.Robustness.Tests;

/// <summary>
/// A follower that falls behind the leader's compacted log gets a snapshot and continues, under write load
/// (DotNext 6.12 can loop resending a snapshot whose install outlasts the peer request timeout: this must not
/// happen at the sizes and timeouts Conclave uses).
/// </summary>
public sealed class SnapshotCatchUpTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_follower_behind_the_compacted_log_catches_up_by_snapshot_under_writes()
    {
        // Snapshots every 100 entries: the log the stopped follower needs is truncated quickly, and it installs several
        // snapshots in a row while it catches up (the case that found the WAL flusher race, see ConclaveWriteAheadLog).
        await using var cluster = await ProcessCluster.StartAsync(3, output, ["--snapshot-count", "100"]);
        await using var workload = new WriteWorkload(cluster.Endpoints, 6);
        await workload.WaitForAcksAsync(200);
        var leader = await cluster.WaitForLeaderAsync();
        var lagging = Enumerable.Range(0, 3).First(i => i != leader);

        cluster[lagging].Kill();
        var behindFrom = (await cluster.StatusAsync(leader)).RaftIndex;
        await Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(leader, ct)).RaftIndex > behindFrom + 3000,
            TimeSpan.FromSeconds(60),
            "the leader's log to move well past several snapshots while the follower is down");

        // Back under load: it must receive a snapshot (its log position was truncated away) and catch up.
        await cluster[lagging].RestartWithoutWaitingAsync();
        await cluster[lagging].WaitUntilHealthyAsync();
        await Eventually.WaitAsync(
            async ct =>
            {
                var l = await cluster.StatusAsync(leader, ct);
                var f = await cluster.StatusAsync(lagging, ct);
                return f.RaftAppliedIndex + 200 >= l.RaftIndex;
            },
            TimeSpan.FromSeconds(60),
            "the restarted follower to catch up with the leader while writes continue");
        var installs = cluster[lagging].ReadLog().Split("Installing snapshot", StringSplitOptions.None).Length - 1;
        output.WriteLine($"the restarted follower installed {installs} snapshot(s)");
        Assert.True(installs > 0, "the restarted follower should have caught up by snapshot");

        await workload.WaitForAcksAsync(workload.AckCount + 100);
        await workload.StopAsync();
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output);
    }
}

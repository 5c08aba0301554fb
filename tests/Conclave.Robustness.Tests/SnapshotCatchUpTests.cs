using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>
/// A follower that falls behind the leader's compacted log gets a snapshot and continues, under write load.
/// DotNext 6.12 counts an InstallSnapshot that outlasts the peer request timeout (500 ms by default) as failed and
/// sends it again; with a state that takes longer than that to load the pair could loop forever. The state here is
/// about 25 MB, which took 0.6-0.9 s to install when the load was part of the exchange; now the exchange covers only
/// the transfer (the load follows in the background).
/// </summary>
public sealed class SnapshotCatchUpTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_follower_behind_the_compacted_log_catches_up_by_snapshot_under_writes()
    {
        // Snapshots every 160 entries (the state is larger than 8 MiB and the log since a point carries less than a
        // quarter of it, so every 16th multiple of 10 is a point, docs/cluster.md): the log the stopped follower needs is
        // truncated quickly, and it installs several snapshots in a row while it catches up (the case that found
        // DotNext's WAL flusher race, robustness.md).
        await using var cluster = await ProcessCluster.StartAsync(3, output, ["--snapshot-count", "10"]);
        var leader = await cluster.WaitForLeaderAsync();
        using (var channel = GrpcChannel.ForAddress(cluster.Endpoints[leader]))
        {
            await StateLoad.LoadAsync(channel, megabytes: 25, valueBytes: 1024, writers: 32);
        }
        await using var workload = new WriteWorkload(cluster.Endpoints, 6);
        await workload.WaitForAcksAsync(200);
        var lagging = Enumerable.Range(0, 3).First(i => i != leader);

        cluster[lagging].Kill();
        var behindFrom = (await cluster.StatusAsync(leader)).RaftIndex;
        await Eventually.WaitAsync(
            async ct => (await cluster.StatusAsync(leader, ct)).RaftIndex > behindFrom + 1000,
            TimeSpan.FromSeconds(120),
            "the leader's log to move well past several snapshots while the follower is down");
        await LogStart.WaitPastAsync(cluster, lagging, (long)behindFrom, TimeSpan.FromSeconds(60));

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
        foreach (var line in cluster[lagging].ReadLog().Split('\n').Where(static l => l.Contains("Installed snapshot", StringComparison.Ordinal)))
        {
            output.WriteLine(line[line.IndexOf("Installed", StringComparison.Ordinal)..]);
        }

        Assert.True(installs > 0, "the restarted follower should have caught up by snapshot");

        await workload.WaitForAcksAsync(workload.AckCount + 100);
        await workload.StopAsync();
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output);
    }
}

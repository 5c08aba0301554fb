using System.Diagnostics;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Faults on real member processes of a 3-member cluster under continuous writes from several clients, each
/// followed by the same check: no acknowledged write is lost and every member converges to the same keyspace.
/// </summary>
public sealed class LeaderFaultTests(ITestOutputHelper output)
{
    private const int Writers = 6;

    [Fact]
    public async Task Killing_the_leader_ten_times_under_writes_loses_no_acknowledged_write()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, output);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        await using var workload = new WriteWorkload(cluster.Endpoints, Writers);
        await using var registers = new RegisterWorkload(cluster.Endpoints, clientCount: 6, keyCount: 20);
        await workload.WaitForAcksAsync(100);

        var recoveries = new List<TimeSpan>();
        for (var round = 1; round <= 10; round++)
        {
            var leader = await cluster.WaitForLeaderAsync();
            var term = (await cluster.StatusAsync(leader)).RaftTerm;
            var killedAt = Stopwatch.GetTimestamp();
            cluster[leader].Kill();

            long? firstAck = null;
            await Eventually.WaitAsync(
                _ => Task.FromResult((firstAck = workload.FirstAckAfter(killedAt, term)) is not null),
                TimeSpan.FromSeconds(20),
                $"round {round}: after the leader (member {leader}, term {term}) was killed, a write is acknowledged in a later term");
            var recovery = Stopwatch.GetElapsedTime(killedAt, firstAck!.Value);
            recoveries.Add(recovery);
            output.WriteLine($"round {round}: killed leader m{leader + 1} (pid {cluster[leader].Pid}); first write acknowledged {recovery.TotalMilliseconds:F0} ms later; {workload.AckCount} acked so far");

            await cluster[leader].RestartWithoutWaitingAsync();
            await cluster[leader].WaitUntilHealthyAsync();
            await workload.WaitForAcksAsync(workload.AckCount + 50);
        }

        await workload.StopAsync();
        await registers.StopAsync();
        var sorted = recoveries.Order().ToList();
        output.WriteLine($"kill -9 leader -> first acknowledged write: median {sorted[sorted.Count / 2].TotalMilliseconds:F0} ms, max {sorted[^1].TotalMilliseconds:F0} ms; {workload.AckCount} writes acknowledged, {workload.Failures} failed or unknown");
        await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output);
        AssertLinearizable(registers, output);
    }

    private static void AssertLinearizable(RegisterWorkload registers, ITestOutputHelper output)
    {
        var history = registers.Recorder.History();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = Conclave.Testing.Linearizability.LinearizabilityChecker.Check(history, TimeSpan.FromSeconds(60));
        output.WriteLine($"linearizability of {history.Count} get/put/compare-and-set operations on 20 keys: {result.Verdict} " +
            $"(checked in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s)");
        Assert.True(result.Verdict == Conclave.Testing.Linearizability.LinearizabilityVerdict.Linearizable, result.Report);
    }

    [Fact]
    public async Task Killing_every_member_under_writes_and_restarting_them_loses_no_acknowledged_write()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, output);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        await using var workload = new WriteWorkload(cluster.Endpoints, Writers);
        await workload.WaitForAcksAsync(300);

        for (var i = 0; i < cluster.Count; i++)
        {
            cluster[i].Kill();
        }

        await workload.StopAsync();
        var acknowledged = workload.Acknowledged.ToDictionary();
        output.WriteLine($"killed all members with {acknowledged.Count} writes acknowledged");

        await Task.WhenAll(Enumerable.Range(0, cluster.Count).Select(i => cluster[i].RestartWithoutWaitingAsync()));
        await Task.WhenAll(Enumerable.Range(0, cluster.Count).Select(i => cluster[i].WaitUntilHealthyAsync()));
        await Convergence.AssertAsync(cluster.Endpoints, acknowledged, output);
    }

    [Fact]
    public async Task A_leader_paused_past_the_election_timeout_steps_down_and_no_term_has_two_leaders()
    {
        await using var cluster = await ProcessCluster.StartAsync(3, output);
        await StateLoad.LoadFaultStateAsync(cluster, output);
        await using var workload = new WriteWorkload(cluster.Endpoints, Writers);
        await using var registers = new RegisterWorkload(cluster.Endpoints, clientCount: 6, keyCount: 20);
        await workload.WaitForAcksAsync(100);
        var leader = await cluster.WaitForLeaderAsync();

        cluster[leader].Pause();
        try
        {
            var next = await cluster.WaitForLeaderAsync(skip: [leader]);
            Assert.NotEqual(leader, next);
            await workload.WaitForAcksAsync(workload.AckCount + 100);
        }
        finally
        {
            cluster[leader].Resume();
        }

        // The old leader hears of the newer term and follows; everyone agrees again.
        await Eventually.WaitAsync(
            async ct =>
            {
                var status = await cluster.StatusAsync(leader, ct);
                return status.Leader != 0 && status.Leader != status.Header.MemberId;
            },
            TimeSpan.FromSeconds(20),
            "the resumed old leader follows the new one");
        await workload.WaitForAcksAsync(workload.AckCount + 100);
        await workload.StopAsync();
        await registers.StopAsync();

        TermLeaders.AssertOneLeaderPerTerm(cluster, output);
        AssertLinearizable(registers, output);
        try
        {
            await Convergence.AssertAsync(cluster.Endpoints, workload.Acknowledged, output);
        }
        catch
        {
            foreach (var line in workload.Log.Take(2000))
            {
                output.WriteLine(line);
            }

            throw;
        }
    }
}

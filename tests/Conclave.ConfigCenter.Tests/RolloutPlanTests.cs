using System.Collections.Concurrent;
using System.Diagnostics;
using Conclave.ConfigCenter.Model;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Progressive rollouts (issue 22 item 2) on a real in-process member whose leader runs the RolloutDriver: a plan over
/// 1,000 simulated instances (each asks Fetch what to run and reports it, as the provider does) advances on schedule with
/// bake times of seconds and promotes after the last step, the cohort stays sticky as it grows, and a cohort that rejects
/// the release past the limit halts the plan and rolls every instance back. Real time, deadlines, no sleeps.
/// </summary>
public sealed class RolloutPlanTests(NodeFixture fixture, ITestOutputHelper output) : IClassFixture<NodeFixture>
{
    private const int Fleet = 1000;

    private ConfigCenterService Center => fixture.Center;

    private DeliveryService Delivery => fixture.Delivery;

    private static ChangeContext Alice => NodeFixture.Alice;

    private async Task<string> ReleasedAsync()
    {
        var app = await fixture.NewAppAsync();
        await Center.CreateNamespaceAsync(app, "DEV", "application", NamespaceFormat.Properties, null, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("ranker", "bm25"), 0, Alice);
        await Center.PublishAsync(app, "DEV", "application", "baseline", null, 0, Alice);
        await Center.SetItemAsync(app, "DEV", "application", new ConfigItem("ranker", "neural"), 0, Alice);
        return app;
    }

    /// <summary>
    /// The fleet: every instance asks which release it should run and reports it when that changed (Rejected when
    /// <paramref name="rejects"/> says so for a gray release). Returns the ids of the instances on the gray release.
    /// </summary>
    private async Task<HashSet<string>> ConvergeAsync(string app, ConcurrentDictionary<string, long> running, Func<string, bool>? rejects = null)
    {
        var gray = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Fleet), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var id = $"pod-{i:D4}";
            var effective = await Delivery.FetchAsync(app, "DEV", "application", id, [], ct);
            if (effective.IsGray)
            {
                gray.Add(id);
            }

            if (running.TryGetValue(id, out var current) && current == effective.Release.Id)
            {
                return;
            }

            var reject = effective.IsGray && rejects?.Invoke(id) == true;
            await Delivery.ReportAsync(app, "DEV", "application", id, [], effective.Release.Id, reject ? DeliveryStatus.Rejected : DeliveryStatus.Applied, reject ? "port in use" : null, "test", ct);
            running[id] = effective.Release.Id;
        });
        return [.. gray];
    }

    private async Task<NamespaceRecord> WaitForAsync(string app, Func<NamespaceRecord, bool> condition, string what, TimeSpan timeout)
    {
        NamespaceRecord? seen = null;
        await Eventually.WaitAsync(async ct => condition(seen = await Center.GetNamespaceAsync(app, "DEV", "application", ct)), timeout, what);
        return seen!;
    }

    [Fact]
    public async Task A_plan_over_a_thousand_instances_advances_on_schedule_keeps_its_cohort_and_promotes()
    {
        var app = await ReleasedAsync();
        var bake = TimeSpan.FromSeconds(2);
        var spec = new RolloutSpec([new RolloutStep(10, 2), new RolloutStep(50, 2), new RolloutStep(100, 2)], MaxRejectedPercent: 5, MinReports: 20);
        var started = Stopwatch.StartNew();
        var gray = await Center.StartRolloutAsync(app, "DEV", "application", new GrayRule(), spec, "neural ranker", null, 0, Alice);
        var running = new ConcurrentDictionary<string, long>();

        var atTen = await ConvergeAsync(app, running);
        Assert.InRange(atTen.Count, 60, 140); // 10% of 1,000 by the cohort hash
        var n = await WaitForAsync(app, x => x.Rollout?.Step == 1, "the plan moves to step 2 after the first bake", TimeSpan.FromSeconds(30));
        Assert.Equal(50, n.Gray!.Rule.Percentage);
        var atFifty = await ConvergeAsync(app, running);
        Assert.InRange(atFifty.Count, 400, 600);
        Assert.Subset(atFifty, atTen); // sticky: growing the step never flips an instance back

        n = await WaitForAsync(app, x => x.Rollout?.Status == RolloutStatus.Completed, "the plan completes after the last bake", TimeSpan.FromSeconds(30));
        output.WriteLine($"plan of 3 x {bake.TotalSeconds:0} s steps completed in {started.Elapsed.TotalSeconds:0.0} s; outcome: {n.Rollout!.Outcome}");
        Assert.Null(n.Gray);
        Assert.Equal(gray.Id, n.HeadReleaseId);
        Assert.Equal([1, 2, 3], n.Rollout.Results.Select(r => r.Step));
        foreach (var step in n.Rollout.Results)
        {
            // On schedule: no step ends before its bake time; the driver looks every 250 ms.
            Assert.True(step.EndedAt - step.StartedAt >= bake - TimeSpan.FromMilliseconds(50), $"step {step.Step} ran {(step.EndedAt - step.StartedAt).TotalSeconds:0.00} s, its bake is {bake.TotalSeconds} s");
        }

        Assert.InRange(n.Rollout.Results[0].Applied, 60, 140);
        Assert.Equal(0, n.Rollout.Results.Sum(r => r.Rejected));
        var all = await ConvergeAsync(app, running);
        Assert.Empty(all); // promoted: the release is the main release, nobody is "gray" any more
        Assert.All(running.Values, id => Assert.Equal(gray.Id, id));
        var history = await Center.HistoryAsync(app, "DEV", "application");
        Assert.Equal(2, history.Count(h => h.Operation == "gray-rule" && h.Author == ConfigCenterService.RolloutActor));
        Assert.Contains(history, h => h.Operation == "gray-promote" && h.Author == ConfigCenterService.RolloutActor);
        Assert.Contains(await Center.AuditAsync(app), a => a.Action == "gray.plan.step" && a.Author == ConfigCenterService.RolloutActor);
    }

    [Fact]
    public async Task A_cohort_that_rejects_past_the_limit_halts_the_plan_and_rolls_every_instance_back()
    {
        var app = await ReleasedAsync();
        var spec = new RolloutSpec([new RolloutStep(20, 600), new RolloutStep(100, 600)], MaxRejectedPercent: 5, MinReports: 20);
        var gray = await Center.StartRolloutAsync(app, "DEV", "application", new GrayRule(), spec, "neural ranker", null, 0, Alice);
        var running = new ConcurrentDictionary<string, long>();

        // 1 in 10 of the cohort rejects: 10% > 5%. The last report lands, then the driver halts within its tick.
        var rejecting = 0;
        var cohort = await ConvergeAsync(app, running, id => Interlocked.Increment(ref rejecting) % 10 == 0);
        var crossed = Stopwatch.StartNew();
        var n = await WaitForAsync(app, x => x.Rollout?.Status == RolloutStatus.Halted, "the plan halts", TimeSpan.FromSeconds(10));
        var halted = crossed.Elapsed;
        output.WriteLine($"halted {halted.TotalMilliseconds:0} ms after the last report of the step; outcome: {n.Rollout!.Outcome}");
        Assert.Null(n.Gray);
        Assert.Contains("rejected", n.Rollout.Outcome, StringComparison.Ordinal);
        Assert.Contains("over the 5% limit", n.Rollout.Outcome, StringComparison.Ordinal);
        Assert.True(halted < TimeSpan.FromSeconds(3), $"the halt took {halted.TotalMilliseconds:0} ms (the driver looks every 250 ms)");
        var result = Assert.Single(n.Rollout.Results);
        Assert.True(result.Rejected * 100.0 / (result.Applied + result.Rejected) > 5);

        // Rolled back: every instance, the cohort included, is told to run the main release again.
        Assert.Empty(await ConvergeAsync(app, running));
        Assert.All(running.Values, id => Assert.NotEqual(gray.Id, id));
        Assert.Contains(await Center.HistoryAsync(app, "DEV", "application"), h => h.Operation == "gray-halt");
        Assert.Contains(await Center.AuditAsync(app), a => a.Action == "gray.plan.halt" && a.Detail.Contains("rejected", StringComparison.Ordinal));
        Assert.NotEmpty(cohort);
    }

    [Fact]
    public async Task People_pause_resume_skip_and_abort_and_bad_plans_are_refused()
    {
        var app = await ReleasedAsync();
        foreach (var (bad, why) in new (RolloutSpec, string)[]
        {
            (new RolloutSpec([]), "1 to 20 steps"),
            (new RolloutSpec([new RolloutStep(50, 1), new RolloutStep(10, 1), new RolloutStep(100, 1)]), "must be above the step before"),
            (new RolloutSpec([new RolloutStep(10, 1), new RolloutStep(50, 1)]), "the last step must be 100%"),
            (new RolloutSpec([new RolloutStep(100, -1)]), "bake time"),
            (new RolloutSpec([new RolloutStep(100, 1)], MaxRejectedPercent: 101), "percentages from 0 to 100"),
            (new RolloutSpec([new RolloutStep(100, 1)], MinReports: 0), "minReports"),
        })
        {
            var refused = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.StartRolloutAsync(app, "DEV", "application", new GrayRule(), bad, null, null, 0, Alice).AsTask());
            Assert.Equal(ConfigErrorKind.InvalidArgument, refused.Kind);
            Assert.Contains(why, refused.Message, StringComparison.Ordinal);
        }

        await Center.StartRolloutAsync(app, "DEV", "application", new GrayRule(), new RolloutSpec([new RolloutStep(5, 1), new RolloutStep(25, 1), new RolloutStep(100, 1)]), null, null, 0, Alice);
        var paused = await Center.PauseRolloutAsync(app, "DEV", "application", 0, Alice);
        Assert.Equal(RolloutStatus.Paused, paused.Rollout!.Status);

        // Paused, the clock stops: well past the bake time it is still at step 1.
        await Eventually.WaitAsync(() => (DateTimeOffset.UtcNow - paused.Rollout.StepStartedAt).TotalSeconds > 2, TimeSpan.FromSeconds(10), "two seconds pass");
        Assert.Equal(0, (await Center.GetNamespaceAsync(app, "DEV", "application")).Rollout!.Step);

        // The rule belongs to the plan.
        var rule = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.UpdateGrayRuleAsync(app, "DEV", "application", new GrayRule { Percentage = 50 }, 0, Alice).AsTask());
        Assert.Equal(ConfigErrorKind.FailedPrecondition, rule.Kind);

        var skipped = await Center.SkipRolloutAsync(app, "DEV", "application", 2, 0, Alice);
        Assert.Equal((1, 25.0), (skipped.Rollout!.Step, skipped.Gray!.Rule.Percentage));
        Assert.Equal(RolloutStatus.Paused, skipped.Rollout.Status);
        await Assert.ThrowsAsync<ConfigCenterException>(() => Center.SkipRolloutAsync(app, "DEV", "application", 4, 0, Alice).AsTask());
        var resumed = await Center.ResumeRolloutAsync(app, "DEV", "application", 0, Alice);
        Assert.Equal(RolloutStatus.Running, resumed.Rollout!.Status);
        await WaitForAsync(app, x => x.Rollout?.Step == 2, "the resumed plan moves on", TimeSpan.FromSeconds(15));

        var aborted = await Center.AbortRolloutAsync(app, "DEV", "application", "wrong ranker", 0, Alice);
        Assert.Equal(RolloutStatus.Aborted, aborted.Rollout!.Status);
        Assert.Null(aborted.Gray);
        Assert.Contains("wrong ranker", aborted.Rollout.Outcome, StringComparison.Ordinal);
        Assert.DoesNotContain((app, "DEV", "application"), await Center.ActiveRolloutsAsync());
        var again = await Assert.ThrowsAsync<ConfigCenterException>(() => Center.PauseRolloutAsync(app, "DEV", "application", 0, Alice).AsTask());
        Assert.Contains("no active rollout plan", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_a_namespace_ends_its_plan_and_a_stale_index_entry_is_dropped()
    {
        var app = await ReleasedAsync();
        await Center.StartRolloutAsync(app, "DEV", "application", new GrayRule(), new RolloutSpec([new RolloutStep(10, 600), new RolloutStep(100, 600)]), null, null, 0, Alice);
        Assert.Contains((app, "DEV", "application"), await Center.ActiveRolloutsAsync());
        await fixture.Removal.DeleteNamespaceAsync(app, "DEV", "application", force: true, Alice);
        Assert.DoesNotContain((app, "DEV", "application"), await Center.ActiveRolloutsAsync());

        // An index entry left behind (as a member of an older version would) is dropped by the driver's next look.
        await Center.CreateNamespaceAsync(app, "DEV", "other", NamespaceFormat.Properties, null, Alice);
        await Center.Store.CommitAsync([], [Keyspace.ConfigStore.Put(Keyspace.ConfigKeys.Rollout(app, "DEV", "gone"), new RolloutIndex(7))], default);
        await Eventually.WaitAsync(async ct => !(await Center.ActiveRolloutsAsync(ct)).Contains((app, "DEV", "gone")), TimeSpan.FromSeconds(10), "the driver drops the stale entry");
    }
}

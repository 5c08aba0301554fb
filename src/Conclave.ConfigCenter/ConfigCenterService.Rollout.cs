using System.Globalization;
using Conclave.ConfigCenter.Keyspace;
using Conclave.ConfigCenter.Model;
using Conclave.Api.Etcd;

namespace Conclave.ConfigCenter;

/// <summary>
/// Progressive rollouts (issue 22 item 2): a gray release whose percentage follows a plan of steps with bake times,
/// advanced by the leader's <c>RolloutDriver</c> through <see cref="DriveRolloutAsync"/>, halted and rolled back by its
/// limits, and paused, resumed, skipped or aborted by people. Every step is a guarded change of the namespace record
/// (its revision is compared), so it happens once however many members try; the cohort hashing is the gray release's,
/// so growing a step never flips an instance back.
/// </summary>
public sealed partial class ConfigCenterService
{
    /// <summary>The driver's author in the audit and history.</summary>
    public const string RolloutActor = "rollout";

    /// <summary>Most steps in a plan.</summary>
    public const int MaxRolloutSteps = 20;

    /// <summary>
    /// Publishes the working copy as a gray release to the first step's share of instances (plus any instances or
    /// labels of <paramref name="rule"/>) and starts <paramref name="spec"/>'s plan.
    /// </summary>
    public async ValueTask<ReleaseRecord> StartRolloutAsync(
        string app, string env, string ns, GrayRule rule, RolloutSpec spec, string? title, string? comment, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default)
    {
        CheckSpec(spec);
        var first = rule with { Percentage = spec.Steps[0].Percentage };
        CheckRule(first);
        ReleaseRecord? release = null;
        await MutateAsync(app, env, ns, expectedRevision, who, "gray.publish", $"{Describe(first)} plan={Describe(spec)}", ReadKeyIfSecret, (n, key) =>
        {
            release = NewRelease(n, ReleaseKind.Gray, title, comment, who, WorkingContent(n), key);
            var history = History(n, "gray-publish", release.Id, n.HeadReleaseId, first, who, comment is null ? $"plan {Describe(spec)}" : $"{comment} (plan {Describe(spec)})");
            var (_, writes) = EndRollout(n, RolloutStatus.Aborted, $"replaced by gray release {release.Id} ({who.Author})");
            var now = clock.GetUtcNow();
            var plan = new RolloutPlan
            {
                ReleaseId = release.Id, Steps = spec.Steps, StepStartedAt = now, StartedAt = now, StartedBy = who.Author,
                MaxRejectedPercent = spec.MaxRejectedPercent, MaxUnhealthyPercent = spec.MaxUnhealthyPercent, MinReports = spec.MinReports,
            };
            writes.AddRange([ReleasePut(release), HistoryPut(n, history), ConfigStore.Put(ConfigKeys.Rollout(app, env, ns), new RolloutIndex(release.Id))]);
            return (n with { Gray = new GrayState(release.Id, first), Rollout = plan, LastReleaseId = release.Id, LastHistoryId = history.Id }, writes);
        }, cancellationToken);
        return release!;
    }

    /// <summary>Stops the plan's clock: the current step holds until resumed.</summary>
    public ValueTask<NamespaceRecord> PauseRolloutAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.plan.pause", "", n =>
        {
            var plan = RequireRollout(n, RolloutStatus.Running);
            var now = clock.GetUtcNow();
            return (n with { Rollout = plan with { Status = RolloutStatus.Paused, BakedSeconds = plan.BakedAt(now), StepStartedAt = now } }, []);
        }, cancellationToken);

    /// <summary>Starts the plan's clock again where it stopped.</summary>
    public ValueTask<NamespaceRecord> ResumeRolloutAsync(string app, string env, string ns, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.plan.resume", "", n =>
        {
            var plan = RequireRollout(n, RolloutStatus.Paused);
            return (n with { Rollout = plan with { Status = RolloutStatus.Running, StepStartedAt = clock.GetUtcNow() } }, []);
        }, cancellationToken);

    /// <summary>Moves the plan to step <paramref name="step"/> (1-based) now, forward or back; its bake time starts again.</summary>
    public ValueTask<NamespaceRecord> SkipRolloutAsync(string app, string env, string ns, int step, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.plan.skip", $"to step {step}", n =>
        {
            var plan = RequireRollout(n, null);
            if (step < 1 || step > plan.Steps.Count)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"step {step} is not one of the plan's steps (1 to {plan.Steps.Count})");
            }

            return StepTo(n, plan, step - 1, who);
        }, cancellationToken);

    /// <summary>Stops the plan and abandons its gray release: every instance returns to the main release.</summary>
    public ValueTask<NamespaceRecord> AbortRolloutAsync(string app, string env, string ns, string? reason, long expectedRevision, ChangeContext who, CancellationToken cancellationToken = default) =>
        MutateAsync(app, env, ns, expectedRevision, who, "gray.plan.abort", reason ?? "", n =>
        {
            RequireRollout(n, null);
            var gray = RequireGray(n);
            var history = History(n, "gray-abandon", n.HeadReleaseId, gray.ReleaseId, gray.Rule, who, reason ?? "rollout aborted");
            var (rollout, writes) = EndRollout(n, RolloutStatus.Aborted, $"aborted by {who.Author}{(string.IsNullOrWhiteSpace(reason) ? "" : ": " + reason)}");
            writes.Add(HistoryPut(n, history));
            return (n with { Gray = null, Rollout = rollout, LastHistoryId = history.Id }, writes);
        }, cancellationToken);

    /// <summary>The namespaces with an active plan (the driver's index).</summary>
    public async ValueTask<IReadOnlyList<(string App, string Env, string Ns)>> ActiveRolloutsAsync(CancellationToken cancellationToken = default)
    {
        var prefix = ConfigKeys.Rollouts().ToStringUtf8();
        var found = new List<(string, string, string)>();
        foreach (var (_, kv) in await Store.ListAsync<RolloutIndex>(ConfigKeys.Rollouts(), cancellationToken))
        {
            var parts = kv.Key.ToStringUtf8()[prefix.Length..].Split('/');
            if (parts.Length == 3)
            {
                found.Add((parts[0], parts[1], parts[2]));
            }
        }

        return found;
    }

    /// <summary>
    /// One look at a namespace's plan at the current time, given what its instances reported: halts it (abandoning the
    /// gray release) when a limit is passed, advances it when the current step has baked, promotes the release after the
    /// last step, and drops a stale index entry. Returns what it did, or null when nothing was due. The change is guarded
    /// by the namespace revision it read: a concurrent driver or person wins, and this look is simply over.
    /// </summary>
    public async ValueTask<string?> DriveRolloutAsync(string app, string env, string ns, IReadOnlyList<InstanceRecord> instances, CancellationToken cancellationToken = default)
    {
        NamespaceRecord n;
        try
        {
            n = await Store.NamespaceAsync(app, env, ns, cancellationToken);
        }
        catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.NotFound)
        {
            // The namespace (or its app) is gone: so is its plan.
            await Store.CommitAsync([ConfigStore.Absent(ConfigKeys.Namespace(app, env, ns))], [ConfigStore.Delete(ConfigKeys.Rollout(app, env, ns))], cancellationToken);
            return "dropped the rollout index entry of a deleted namespace";
        }

        var driver = ChangeContext.Unchecked(RolloutActor);
        if (n.Rollout is not { Active: true } plan || n.Gray?.ReleaseId != plan.ReleaseId)
        {
            await Store.CommitAsync([ConfigStore.ModifiedAt(ConfigKeys.Namespace(app, env, ns), n.Revision)], [ConfigStore.Delete(ConfigKeys.Rollout(app, env, ns))], cancellationToken);
            return "dropped a stale rollout index entry";
        }

        if (plan.Status != RolloutStatus.Running)
        {
            return null;
        }

        var now = clock.GetUtcNow();
        var (applied, rejected, unhealthy) = Count(instances, plan.ReleaseId);
        var reports = applied + rejected + unhealthy;
        string? breach = null;
        if (reports >= Math.Max(1, plan.MinReports))
        {
            if (rejected * 100.0 / reports > plan.MaxRejectedPercent)
            {
                breach = $"{rejected} of {reports} reports ({Percent(rejected, reports)}) rejected release {plan.ReleaseId}, over the {Fmt(plan.MaxRejectedPercent)}% limit";
            }
            else if (unhealthy * 100.0 / reports > plan.MaxUnhealthyPercent)
            {
                breach = $"{unhealthy} of {reports} reports ({Percent(unhealthy, reports)}) were unhealthy after applying release {plan.ReleaseId}, over the {Fmt(plan.MaxUnhealthyPercent)}% limit";
            }
        }

        try
        {
            if (breach is not null)
            {
                var reason = $"halted at step {plan.Step + 1} ({Fmt(plan.Steps[plan.Step].Percentage)}%): {breach}";
                await MutateAsync(app, env, ns, n.Revision, driver, "gray.plan.halt", reason, x =>
                {
                    var gray = RequireGray(x);
                    var history = History(x, "gray-halt", x.HeadReleaseId, gray.ReleaseId, gray.Rule, driver, reason);
                    var ended = Finish(x.Rollout!, now, applied, rejected, unhealthy);
                    var (rollout, writes) = EndRollout(x with { Rollout = ended }, RolloutStatus.Halted, reason);
                    writes.Add(HistoryPut(x, history));
                    return (x with { Gray = null, Rollout = rollout, LastHistoryId = history.Id }, writes);
                }, cancellationToken);
                return reason;
            }

            if (plan.BakedAt(now) < plan.Steps[plan.Step].BakeSeconds)
            {
                return null;
            }

            if (plan.Step == plan.Steps.Count - 1)
            {
                var outcome = $"completed: step {plan.Step + 1} ({Fmt(plan.Steps[plan.Step].Percentage)}%) baked; release {plan.ReleaseId} promoted to main";
                await MutateAsync(app, env, ns, n.Revision, driver, "gray.promote", outcome, x =>
                {
                    var gray = RequireGray(x);
                    var history = History(x, "gray-promote", gray.ReleaseId, x.HeadReleaseId, gray.Rule, driver, "rollout plan completed");
                    var ended = Finish(x.Rollout!, now, applied, rejected, unhealthy);
                    var (rollout, writes) = EndRollout(x with { Rollout = ended }, RolloutStatus.Completed, outcome);
                    writes.Add(HistoryPut(x, history));
                    return (x with { HeadReleaseId = gray.ReleaseId, Gray = null, Rollout = rollout, LastHistoryId = history.Id }, writes);
                }, cancellationToken);
                return outcome;
            }

            var next = plan.Step + 1;
            await MutateAsync(app, env, ns, n.Revision, driver, "gray.plan.step", $"step {next + 1} of {plan.Steps.Count}: {Fmt(plan.Steps[next].Percentage)}%", x =>
                StepTo(x, Finish(x.Rollout!, now, applied, rejected, unhealthy), next, driver), cancellationToken);
            return $"advanced to step {next + 1} ({Fmt(plan.Steps[next].Percentage)}%)";
        }
        catch (ConfigCenterException e) when (e.Kind == ConfigErrorKind.Conflict)
        {
            return null; // someone changed the namespace first: the next look decides on what is there now
        }
    }

    /// <summary>Shares of the reports for <paramref name="releaseId"/>: applied, rejected, unhealthy.</summary>
    public static (int Applied, int Rejected, int Unhealthy) Count(IReadOnlyList<InstanceRecord> instances, long releaseId)
    {
        int applied = 0, rejected = 0, unhealthy = 0;
        foreach (var i in instances)
        {
            if (i.ReleaseId != releaseId)
            {
                continue;
            }

            switch (i.Status)
            {
                case DeliveryStatus.Applied: applied++; break;
                case DeliveryStatus.Rejected: rejected++; break;
                case DeliveryStatus.Unhealthy: unhealthy++; break;
            }
        }

        return (applied, rejected, unhealthy);
    }

    private (NamespaceRecord Next, List<RequestOp> Writes) StepTo(NamespaceRecord n, RolloutPlan plan, int step, ChangeContext who)
    {
        var gray = RequireGray(n);
        var rule = gray.Rule with { Percentage = plan.Steps[step].Percentage };
        var history = History(n, "gray-rule", gray.ReleaseId, n.HeadReleaseId, rule, who, $"rollout step {step + 1} of {plan.Steps.Count}");
        var next = plan with { Step = step, StepStartedAt = clock.GetUtcNow(), BakedSeconds = 0 };
        return (n with { Gray = gray with { Rule = rule }, Rollout = next, LastHistoryId = history.Id }, [HistoryPut(n, history)]);
    }

    /// <summary>The plan with its current step's result recorded.</summary>
    private static RolloutPlan Finish(RolloutPlan plan, DateTimeOffset now, int applied, int rejected, int unhealthy) =>
        plan with { Results = [.. plan.Results, new RolloutStepResult(plan.Step + 1, plan.Steps[plan.Step].Percentage, plan.StepStartedAt, now, applied, rejected, unhealthy)] };

    /// <summary>An active plan of <paramref name="n"/> ended as <paramref name="status"/>, and the write that drops its index entry; an inactive one as it was.</summary>
    private (RolloutPlan? Plan, List<RequestOp> Writes) EndRollout(NamespaceRecord n, RolloutStatus status, string outcome) =>
        n.Rollout is { Active: true } plan
            ? (plan with { Status = status, Outcome = outcome, EndedAt = clock.GetUtcNow() }, [ConfigStore.Delete(ConfigKeys.Rollout(n.App, n.Env, n.Name))])
            : (n.Rollout, []);

    private static RolloutPlan RequireRollout(NamespaceRecord n, RolloutStatus? status)
    {
        if (n.Rollout is not { Active: true } plan)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"{n.App}/{n.Env}/{n.Name} has no active rollout plan");
        }

        if (status is { } wanted && plan.Status != wanted)
        {
            throw new ConfigCenterException(ConfigErrorKind.FailedPrecondition, $"the rollout plan of {n.App}/{n.Env}/{n.Name} is {plan.Status.ToString().ToLowerInvariant()}, not {wanted.ToString().ToLowerInvariant()}");
        }

        return plan;
    }

    private static void CheckSpec(RolloutSpec spec)
    {
        if (spec.Steps.Count is 0 or > MaxRolloutSteps)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"a rollout plan has 1 to {MaxRolloutSteps} steps, not {spec.Steps.Count}");
        }

        var previous = 0.0;
        for (var i = 0; i < spec.Steps.Count; i++)
        {
            var step = spec.Steps[i];
            if (double.IsNaN(step.Percentage) || step.Percentage <= previous || step.Percentage > 100)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"step {i + 1}: {Fmt(step.Percentage)}% must be above the step before ({Fmt(previous)}%) and at most 100%");
            }

            if (step.BakeSeconds is < 0 or > 7 * 24 * 3600)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"step {i + 1}: a bake time is 0 to 7 days, not {step.BakeSeconds} s");
            }

            previous = step.Percentage;
        }

        if (spec.Steps[^1].Percentage != 100)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"the last step must be 100% (the plan promotes the release after it), not {Fmt(spec.Steps[^1].Percentage)}%");
        }

        if (double.IsNaN(spec.MaxRejectedPercent) || spec.MaxRejectedPercent is < 0 or > 100 || double.IsNaN(spec.MaxUnhealthyPercent) || spec.MaxUnhealthyPercent is < 0 or > 100)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, "the rejected and unhealthy limits are percentages from 0 to 100");
        }

        if (spec.MinReports < 1)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidArgument, $"minReports is at least 1, not {spec.MinReports}");
        }
    }

    private static string Describe(RolloutSpec spec) =>
        string.Join(",", spec.Steps.Select(s => $"{Fmt(s.Percentage)}%@{s.BakeSeconds}s")) + $" maxRejected={Fmt(spec.MaxRejectedPercent)}% maxUnhealthy={Fmt(spec.MaxUnhealthyPercent)}% minReports={spec.MinReports}";

    private static string Fmt(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Percent(int part, int whole) => Fmt(part * 100.0 / whole) + "%";
}

/// <summary>What a person asks for when starting a rollout: the steps and the limits that halt it.</summary>
public sealed record RolloutSpec(IReadOnlyList<RolloutStep> Steps, double MaxRejectedPercent = 5, double MaxUnhealthyPercent = 5, int MinReports = 1);

/// <summary>The driver's index entry of an active plan (<see cref="ConfigKeys.Rollout"/>).</summary>
public sealed record RolloutIndex(long ReleaseId);

using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary><c>conclave config gray publish|rule|promote|abandon|status</c> (--app, --env, --ns).</summary>
internal static class ConfigGrayCommands
{
    public static Command Create(ConfigOptions options)
    {
        var gray = new Command("gray", "Gray release: publish the working copy to some instances first, widen, promote or abandon (--app, --env, --ns).");

        var (ids, labels, percentage) = RuleOptions();
        var title = new Option<string?>("--title", "-t") { Description = "Release title." };
        var comment = new Option<string?>("--comment", "-m") { Description = "Release comment." };
        var publishDryRun = ConfigReleaseCommands.DryRunOption();
        var publishExpect = ConfigCommands.ExpectOption();
        var plan = new Option<string?>("--plan")
        {
            Description = "A progressive rollout instead of a fixed percentage: steps P%@BAKE (e.g. 1%,10%@5m,50%@10m,100%@10m; a step without @ bakes 5m) " +
                "or a strategy (canary, linear, exponential, all-at-once). It advances by itself, promotes after the last step, and halts and rolls back past --max-rejected/--max-unhealthy.",
        };
        var maxRejected = new Option<double?>("--max-rejected") { Description = "With --plan: halt and roll back when more than this percentage of the cohort's reports reject the release (default 5)." };
        var maxUnhealthy = new Option<double?>("--max-unhealthy") { Description = "With --plan: halt and roll back when more than this percentage report the app unhealthy after applying it (default 5)." };
        var minReports = new Option<int?>("--min-reports") { Description = "With --plan: reports of the release needed before the limits are judged (default 1)." };
        var publish = new Command("publish", "Show what the gray release ships (the working copy against the main release), then publish it to the instances the rule (or the first step of --plan) selects.")
        {
            ids, labels, percentage, title, comment, plan, maxRejected, maxUnhealthy, minReports, publishExpect, publishDryRun,
        };
        publish.SetConfigAction(options, async c =>
        {
            var rule = Rule(c, ids, labels, percentage);
            var guard = await ConfigReleaseCommands.PreviewAsync(c, c.NamespacePath("diff"), "ship to the gray instances", c.Parse.GetValue(publishExpect));
            if (c.Parse.GetValue(publishDryRun))
            {
                return 0;
            }

            var body = new JsonObject { ["rule"] = rule, ["title"] = c.Parse.GetValue(title), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = guard };
            if (c.Parse.GetValue(plan) is { } text)
            {
                body["plan"] = new JsonObject
                {
                    ["text"] = text, ["maxRejectedPercent"] = c.Parse.GetValue(maxRejected), ["maxUnhealthyPercent"] = c.Parse.GetValue(maxUnhealthy), ["minReports"] = c.Parse.GetValue(minReports),
                };
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("gray"), body, c.CancellationToken);
            await c.PrintAsync(answer, r => c.Parse.GetValue(plan) is { } p
                ? $"gray release {ConfigTables.S(r, "id")} rolling out by plan {p} (conclave config gray plan shows it)"
                : $"gray release {ConfigTables.S(r, "id")} published to {ConfigTables.Rule(JsonElement.Parse(rule.ToJsonString()))}");
            return 0;
        });

        var (ruleIds, ruleLabels, rulePercentage) = RuleOptions();
        var ruleExpect = ConfigCommands.ExpectOption();
        var change = new Command("rule", "Change who gets the active gray release (e.g. 10% to 20%: the first 10% stay in).") { ruleIds, ruleLabels, rulePercentage, ruleExpect };
        change.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PutAsync(c.NamespacePath("gray", "rule"), new JsonObject { ["rule"] = Rule(c, ruleIds, ruleLabels, rulePercentage), ["expectedRevision"] = c.Parse.GetValue(ruleExpect) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"gray release {ConfigTables.S(n.GetProperty("gray"), "releaseId")} now goes to {ConfigTables.Rule(n.GetProperty("gray").GetProperty("rule"))}");
            return 0;
        });

        var promoteDryRun = ConfigReleaseCommands.DryRunOption();
        var promoteExpect = ConfigCommands.ExpectOption();
        var promote = new Command("promote", "Show what promoting ships (the gray release against the main release), then make the gray release the main release for everyone.") { promoteExpect, promoteDryRun };
        promote.SetConfigAction(options, async c =>
        {
            var n = await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
            if (n is not { } ns || !ns.TryGetProperty("gray", out var g) || g.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"{c.App}/{c.Env}/{c.Ns} has no active gray release to promote.");
            }

            var guard = await ConfigReleaseCommands.PreviewAsync(c, c.NamespacePath("diff") + $"?from={ConfigTables.S(ns, "headReleaseId")}&to={ConfigTables.S(g, "releaseId")}", "ship to every instance", c.Parse.GetValue(promoteExpect), ns);
            if (c.Parse.GetValue(promoteDryRun))
            {
                return 0;
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "promote"), new JsonObject { ["expectedRevision"] = guard }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"promoted: main release is {ConfigTables.S(n, "headReleaseId")}");
            return 0;
        });

        var abandonExpect = ConfigCommands.ExpectOption();
        var abandon = new Command("abandon", "End the gray release: its instances go back to the main release.") { abandonExpect };
        abandon.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "abandon"), new JsonObject { ["expectedRevision"] = c.Parse.GetValue(abandonExpect) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"abandoned: everyone is on main release {ConfigTables.S(n, "headReleaseId")}");
            return 0;
        });

        var status = new Command("status", "Show the active gray release and its rule.");
        status.SetConfigAction(options, async c =>
        {
            var n = await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
            var grayState = n?.GetProperty("gray");
            if (c.Json)
            {
                await c.Out.WriteLineAsync(grayState is { } g ? ConfigJsonText.Compact(g) : "null");
            }
            else
            {
                await c.Out.WriteLineAsync(grayState is { ValueKind: JsonValueKind.Object } g
                    ? $"gray release {ConfigTables.S(g, "releaseId")} to {ConfigTables.Rule(g.GetProperty("rule"))}; main release {ConfigTables.S(n!.Value, "headReleaseId")}"
                    : "no active gray release");
            }

            return 0;
        });

        gray.Subcommands.Add(publish);
        gray.Subcommands.Add(change);
        gray.Subcommands.Add(promote);
        gray.Subcommands.Add(abandon);
        gray.Subcommands.Add(status);
        gray.Subcommands.Add(Plan(options));
        return gray;
    }

    /// <summary><c>conclave config gray plan [show|pause|resume|skip|abort]</c>: the rollout plan of the gray release.</summary>
    private static Command Plan(ConfigOptions options)
    {
        var plan = new Command("plan", "The rollout plan driving the gray release: show it (default), pause, resume, skip to a step, or abort (rolls back).");
        plan.SetConfigAction(options, ShowAsync);
        var show = new Command("show", "Show the plan: steps, the current one and its bake, limits, and each finished step's reports.");
        show.SetConfigAction(options, ShowAsync);
        plan.Subcommands.Add(show);
        foreach (var (verb, what) in new[] { ("pause", "Stop the plan's clock: the current step holds."), ("resume", "Start the plan's clock again.") })
        {
            var command = new Command(verb, what);
            command.SetConfigAction(options, async c =>
            {
                var answer = await c.Api.PostAsync(c.NamespacePath("gray", "plan", verb), [], c.CancellationToken);
                await c.PrintAsync(answer, n => PlanText(n));
                return 0;
            });
            plan.Subcommands.Add(command);
        }

        var step = new Option<int>("--step") { Description = "The step to go to (1-based), forward or back.", Required = true };
        var skip = new Command("skip", "Move the plan to a step now (its bake starts again).") { step };
        skip.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "plan", "skip"), new JsonObject { ["step"] = c.Parse.GetValue(step) }, c.CancellationToken);
            await c.PrintAsync(answer, n => PlanText(n));
            return 0;
        });
        plan.Subcommands.Add(skip);

        var reason = new Option<string?>("--comment", "-m") { Description = "Why." };
        var abort = new Command("abort", "Stop the plan and abandon its gray release: every instance returns to the main release.") { reason };
        abort.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "plan", "abort"), new JsonObject { ["reason"] = c.Parse.GetValue(reason) }, c.CancellationToken);
            await c.PrintAsync(answer, n => PlanText(n));
            return 0;
        });
        plan.Subcommands.Add(abort);
        return plan;

        static async Task<int> ShowAsync(ConfigContext c)
        {
            var n = await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
            if (c.Json)
            {
                await c.Out.WriteLineAsync(n is { } v && v.TryGetProperty("rollout", out var r) ? ConfigJsonText.Compact(r) : "null");
            }
            else
            {
                await c.Out.WriteLineAsync(n is { } v ? PlanText(v) : "no rollout plan");
            }

            return 0;
        }
    }

    /// <summary>A namespace's rollout plan in words and a table of its steps.</summary>
    private static string PlanText(JsonElement n)
    {
        if (!n.TryGetProperty("rollout", out var r) || r.ValueKind != JsonValueKind.Object)
        {
            return "no rollout plan";
        }

        var status = ConfigTables.S(r, "status");
        var current = r.GetProperty("step").GetInt32();
        var steps = r.GetProperty("steps");
        var results = r.GetProperty("results").EnumerateArray().ToDictionary(x => x.GetProperty("step").GetInt32());
        var head = $"rollout of release {ConfigTables.S(r, "releaseId")} by {ConfigTables.S(r, "startedBy")}: {status.ToLowerInvariant()}"
            + (status is "Running" or "Paused" ? $", step {current + 1} of {steps.GetArrayLength()}" : "")
            + $"; halts past {ConfigTables.S(r, "maxRejectedPercent")}% rejected or {ConfigTables.S(r, "maxUnhealthyPercent")}% unhealthy (after {ConfigTables.S(r, "minReports")} reports)"
            + (ConfigTables.S(r, "outcome") is { Length: > 0 } outcome ? $"\n{outcome}" : "") + "\n";
        var table = new Client.TextTable(["STEP", "SHARE", "BAKE", "STATE", "APPLIED", "REJECTED", "UNHEALTHY"]);
        var i = 0;
        foreach (var s in steps.EnumerateArray())
        {
            var number = ++i;
            var finished = results.TryGetValue(number, out var done);
            var state = finished ? "done" : status is "Running" or "Paused" && number == current + 1 ? status.ToLowerInvariant() : "";
            table.Add([
                number.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{ConfigTables.S(s, "percentage")}%", $"{ConfigTables.S(s, "bakeSeconds")}s", state,
                finished ? ConfigTables.S(done, "applied") : "", finished ? ConfigTables.S(done, "rejected") : "", finished ? ConfigTables.S(done, "unhealthy") : ""]);
        }

        return head + table;
    }

    private static (Option<string?> Ids, Option<string?> Labels, Option<double> Percentage) RuleOptions() =>
    (
        new Option<string?>("--ids") { Description = "Comma-separated instance ids." },
        new Option<string?>("--labels") { Description = "Comma-separated key=value labels; an instance needs all of them." },
        new Option<double>("--percentage", "-p") { Description = "0-100: a sticky cohort chosen by hashing the instance id." }
    );

    private static JsonObject Rule(ConfigContext c, Option<string?> ids, Option<string?> labels, Option<double> percentage) => new()
    {
        ["instanceIds"] = Split(c.Parse.GetValue(ids)),
        ["labels"] = Split(c.Parse.GetValue(labels)),
        ["percentage"] = c.Parse.GetValue(percentage),
    };

    private static JsonArray Split(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => (JsonNode)v)];
}

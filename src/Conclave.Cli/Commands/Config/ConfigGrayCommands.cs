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
        var publish = new Command("publish", "Show what the gray release ships (the working copy against the main release), then publish it to the instances the rule selects.") { ids, labels, percentage, title, comment, publishDryRun };
        publish.SetConfigAction(options, async c =>
        {
            var rule = Rule(c, ids, labels, percentage);
            var guard = await ConfigReleaseCommands.PreviewAsync(c, c.NamespacePath("diff"), "ship to the gray instances", 0);
            if (c.Parse.GetValue(publishDryRun))
            {
                return 0;
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("gray"), new JsonObject { ["rule"] = rule, ["title"] = c.Parse.GetValue(title), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = guard }, c.CancellationToken);
            await c.PrintAsync(answer, r => $"gray release {ConfigTables.S(r, "id")} published to {ConfigTables.Rule(JsonElement.Parse(rule.ToJsonString()))}");
            return 0;
        });

        var (ruleIds, ruleLabels, rulePercentage) = RuleOptions();
        var change = new Command("rule", "Change who gets the active gray release (e.g. 10% to 20%: the first 10% stay in).") { ruleIds, ruleLabels, rulePercentage };
        change.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PutAsync(c.NamespacePath("gray", "rule"), new JsonObject { ["rule"] = Rule(c, ruleIds, ruleLabels, rulePercentage) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"gray release {ConfigTables.S(n.GetProperty("gray"), "releaseId")} now goes to {ConfigTables.Rule(n.GetProperty("gray").GetProperty("rule"))}");
            return 0;
        });

        var promoteDryRun = ConfigReleaseCommands.DryRunOption();
        var promote = new Command("promote", "Show what promoting ships (the gray release against the main release), then make the gray release the main release for everyone.") { promoteDryRun };
        promote.SetConfigAction(options, async c =>
        {
            var n = await c.Api.GetAsync(c.NamespacePath(), c.CancellationToken);
            if (n is not { } ns || !ns.TryGetProperty("gray", out var g) || g.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"{c.App}/{c.Env}/{c.Ns} has no active gray release to promote.");
            }

            var guard = await ConfigReleaseCommands.PreviewAsync(c, c.NamespacePath("diff") + $"?from={ConfigTables.S(ns, "headReleaseId")}&to={ConfigTables.S(g, "releaseId")}", "ship to every instance", 0);
            if (c.Parse.GetValue(promoteDryRun))
            {
                return 0;
            }

            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "promote"), new JsonObject { ["expectedRevision"] = guard }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"promoted: main release is {ConfigTables.S(n, "headReleaseId")}");
            return 0;
        });

        var abandon = new Command("abandon", "End the gray release: its instances go back to the main release.");
        abandon.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "abandon"), [], c.CancellationToken);
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
        return gray;
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

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
        var publishExpect = ConfigCommands.ExpectOption();
        var publish = new Command("publish", "Publish the working copy to the instances the rule selects.") { ids, labels, percentage, title, comment, publishExpect };
        publish.SetConfigAction(options, async c =>
        {
            var rule = Rule(c, ids, labels, percentage);
            var answer = await c.Api.PostAsync(c.NamespacePath("gray"), new JsonObject { ["rule"] = rule, ["title"] = c.Parse.GetValue(title), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = c.Parse.GetValue(publishExpect) }, c.CancellationToken);
            await c.PrintAsync(answer, r => $"gray release {ConfigTables.S(r, "id")} published to {ConfigTables.Rule(JsonElement.Parse(rule.ToJsonString()))}");
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

        var promoteExpect = ConfigCommands.ExpectOption();
        var promote = new Command("promote", "Make the gray release the main release for everyone.") { promoteExpect };
        promote.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(c.NamespacePath("gray", "promote"), new JsonObject { ["expectedRevision"] = c.Parse.GetValue(promoteExpect) }, c.CancellationToken);
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

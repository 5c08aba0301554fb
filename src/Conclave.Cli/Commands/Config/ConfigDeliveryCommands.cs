using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary><c>conclave config instances</c> (who runs which release) and <c>conclave config audit</c>.</summary>
internal static class ConfigDeliveryCommands
{
    public static Command Instances(ConfigOptions options)
    {
        var release = new Option<long>("--release") { Description = "Count convergence to this release (default: the main release)." };
        var instances = new Command("instances", "Live instances of a namespace, the release each applied or rejected, and convergence (--app, --env, --ns).") { release };
        instances.SetConfigAction(options, async c =>
        {
            var list = await c.Api.GetAsync(c.NamespacePath("instances"), c.CancellationToken);
            var convergence = await c.Api.GetAsync(c.NamespacePath("convergence") + $"?releaseId={c.Parse.GetValue(release)}", c.CancellationToken);
            if (c.Json)
            {
                await c.Out.WriteLineAsync(new JsonObject { ["instances"] = Node(list), ["convergence"] = Node(convergence) }.ToJsonString());
            }
            else
            {
                await c.Out.WriteAsync(ConfigTables.Instances(list!.Value));
                await c.Out.WriteAsync(ConfigTables.Convergence(convergence!.Value));
            }

            return 0;
        });
        return instances;
    }

    public static Command Audit(ConfigOptions options)
    {
        var limit = new Option<int>("--limit") { Description = "Most entries, newest first.", DefaultValueFactory = _ => 100 };
        var user = new Option<string?>("--by") { Description = "Only entries by this user." };
        var action = new Option<string?>("--action") { Description = "Only actions starting with this (item., release., denied, access.)." };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Only entries at or after this time (ISO 8601, e.g. 2026-12-01T00:00:00Z)." };
        var until = new Option<DateTimeOffset?>("--until") { Description = "Only entries before this time." };
        var jsonl = new Option<bool>("--jsonl") { Description = "Export every matching entry as JSON lines, oldest first (every app without --app; root when auth is enabled)." };
        var audit = new Command("audit", "Who changed what, newest first (--app, or every app); refusals show as 'denied'.") { limit, user, action, since, until, jsonl };
        audit.SetConfigAction(options, async c =>
        {
            var query = new List<string>();
            void Add(string name, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    query.Add($"{name}={Uri.EscapeDataString(value)}");
                }
            }

            Add("app", c.Parse.GetValue(options.App));
            Add("author", c.Parse.GetValue(user));
            Add("action", c.Parse.GetValue(action));
            Add("since", c.Parse.GetValue(since)?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            Add("until", c.Parse.GetValue(until)?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            if (c.Parse.GetValue(jsonl))
            {
                await c.Out.WriteAsync(await c.Api.GetTextAsync(ConfigApi.Path("audit", "export") + "?" + string.Join('&', query), c.CancellationToken));
                return 0;
            }

            query.Add($"limit={c.Parse.GetValue(limit)}");
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("audit") + "?" + string.Join('&', query), c.CancellationToken), ConfigTables.AuditAcrossApps);
            return 0;
        });
        return audit;
    }

    private static JsonNode? Node(JsonElement? answer) => answer is { } value ? JsonNode.Parse(value.GetRawText()) : null;
}

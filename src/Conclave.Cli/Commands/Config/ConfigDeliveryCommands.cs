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
        var audit = new Command("audit", "Who changed what in an app, newest first (--app).") { limit };
        audit.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps", c.App, "audit") + $"?limit={c.Parse.GetValue(limit)}", c.CancellationToken), ConfigTables.Audit);
            return 0;
        });
        return audit;
    }

    private static JsonNode? Node(JsonElement? answer) => answer is { } value ? JsonNode.Parse(value.GetRawText()) : null;
}

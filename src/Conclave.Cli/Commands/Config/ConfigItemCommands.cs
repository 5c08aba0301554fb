using System.CommandLine;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary><c>conclave config item list|set|delete</c>: the working copy of a properties namespace (--app, --env, --ns).</summary>
internal static class ConfigItemCommands
{
    public static Command Create(ConfigOptions options)
    {
        var item = new Command("item", "List, set and delete the items of a properties namespace's working copy (--app, --env, --ns).");

        var reveal = ConfigCommands.RevealOption();
        var list = new Command("list", "List the working copy's items (secret values masked unless --reveal).") { reveal };
        list.SetConfigAction(options, async c =>
        {
            var n = await c.Api.GetAsync(c.NamespacePath() + (c.Parse.GetValue(reveal) ? "?reveal=true" : ""), c.CancellationToken);
            if (c.Json)
            {
                await c.PrintAsync(n?.GetProperty("items"), _ => "");
            }
            else if (n is { } value)
            {
                await c.Out.WriteLineAsync(ConfigTables.Items(value.GetProperty("items")).TrimEnd('\n'));
            }

            return 0;
        });

        var key = new Argument<string>("KEY") { Description = "The item key." };
        var value = new Argument<string>("VALUE") { Description = "The value (single line)." };
        var comment = new Option<string?>("--comment") { Description = "A comment kept with the item." };
        var expect = ConfigCommands.ExpectOption();
        var secret = new Option<bool>("--secret") { Description = "The value is secret: encrypted before it is stored, masked in views (needs a member master key). An item once secret stays secret." };
        var set = new Command("set", "Add or replace an item (the working copy only: publish to deliver it).") { key, value, comment, expect, secret };
        set.SetConfigAction(options, async c =>
        {
            var k = c.Parse.GetRequiredValue(key);
            var answer = await c.Api.PutAsync(c.NamespacePath("items", k), new JsonObject { ["value"] = c.Parse.GetRequiredValue(value), ["comment"] = c.Parse.GetValue(comment), ["expectedRevision"] = c.Parse.GetValue(expect), ["secret"] = c.Parse.GetValue(secret) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"set {k}{(c.Parse.GetValue(secret) ? " (secret)" : "")}; revision {ConfigTables.S(n, "revision")}");
            return 0;
        });

        var deleteKey = new Argument<string>("KEY") { Description = "The item key." };
        var deleteExpect = ConfigCommands.ExpectOption();
        var delete = new Command("delete", "Delete an item from the working copy.") { deleteKey, deleteExpect };
        delete.SetConfigAction(options, async c =>
        {
            var k = c.Parse.GetRequiredValue(deleteKey);
            var expected = c.Parse.GetValue(deleteExpect);
            var answer = await c.Api.DeleteAsync(c.NamespacePath("items", k) + (expected > 0 ? $"?expectedRevision={expected}" : ""), c.CancellationToken);
            await c.PrintAsync(answer, n => $"deleted {k}; revision {ConfigTables.S(n, "revision")}");
            return 0;
        });

        item.Subcommands.Add(list);
        item.Subcommands.Add(set);
        item.Subcommands.Add(delete);
        return item;
    }
}

using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// <c>conclave config access ...</c>: an app's owner, admins and grants (ADR 0015), a namespace's release policy, and
/// the center's settings (who may create apps).
/// </summary>
internal static class ConfigAccessCommands
{
    public static Command Access(ConfigOptions options)
    {
        var access = new Command("access", "Show and change who may do what in an app (owner, admins, edit/release/reveal grants).");

        var show = new Command("show", "Show the app's owner, admins and grants (--app).");
        show.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps", c.App, "access"), c.CancellationToken), Table);
            return 0;
        });

        var subject = new Argument<string>("SUBJECT") { Description = "user:NAME or role:NAME." };
        var permission = new Argument<string>("PERMISSION") { Description = "edit, release or reveal." };
        permission.AcceptOnlyFromAmong("edit", "release", "reveal");
        var grant = new Command("grant", "Grant a permission on --env and --ns (each '*' or left out: all of them).") { subject, permission };
        grant.SetConfigAction(options, async c =>
        {
            var body = new JsonObject
            {
                ["subject"] = c.Parse.GetRequiredValue(subject),
                ["permission"] = c.Parse.GetRequiredValue(permission),
                ["env"] = c.OptionalEnv ?? "*",
                ["namespace"] = c.OptionalNs ?? "*",
            };
            await c.PrintAsync(await c.Api.PostAsync(ConfigApi.Path("apps", c.App, "access", "grants"), body, c.CancellationToken), Table);
            return 0;
        });

        var revokeSubject = new Argument<string>("SUBJECT") { Description = "user:NAME or role:NAME." };
        var revokePermission = new Argument<string>("PERMISSION") { Description = "edit, release or reveal." };
        revokePermission.AcceptOnlyFromAmong("edit", "release", "reveal");
        var revoke = new Command("revoke", "Revoke a grant (the same --env and --ns it was made with).") { revokeSubject, revokePermission };
        revoke.SetConfigAction(options, async c =>
        {
            var query = $"?subject={Uri.EscapeDataString(c.Parse.GetRequiredValue(revokeSubject))}&permission={c.Parse.GetRequiredValue(revokePermission)}"
                + $"&env={Uri.EscapeDataString(c.OptionalEnv ?? "*")}&ns={Uri.EscapeDataString(c.OptionalNs ?? "*")}";
            await c.PrintAsync(await c.Api.DeleteAsync(ConfigApi.Path("apps", c.App, "access", "grants") + query, c.CancellationToken), Table);
            return 0;
        });

        var adminSubject = new Argument<string>("SUBJECT") { Description = "user:NAME or role:NAME." };
        var addAdmin = new Command("add-admin", "Make a user or role an admin of the app.") { adminSubject };
        addAdmin.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.PostAsync(ConfigApi.Path("apps", c.App, "access", "admins"), new JsonObject { ["subject"] = c.Parse.GetRequiredValue(adminSubject) }, c.CancellationToken), Table);
            return 0;
        });

        var removeSubject = new Argument<string>("SUBJECT") { Description = "user:NAME or role:NAME." };
        var removeAdmin = new Command("remove-admin", "Remove an admin of the app.") { removeSubject };
        removeAdmin.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.DeleteAsync(ConfigApi.Path("apps", c.App, "access", "admins", c.Parse.GetRequiredValue(removeSubject)), c.CancellationToken), Table);
            return 0;
        });

        var ownerName = new Argument<string>("USER") { Description = "The new owner's user name." };
        var owner = new Command("set-owner", "Hand the app to another owner (its owner or root).") { ownerName };
        owner.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.PutAsync(ConfigApi.Path("apps", c.App, "access", "owner"), new JsonObject { ["owner"] = c.Parse.GetRequiredValue(ownerName) }, c.CancellationToken), Table);
            return 0;
        });

        var separate = new Option<bool>("--separate-edit-release") { Description = "Whoever edited since the last release may not publish it (Apollo's switch)." };
        var approval = new Option<bool>("--require-approval") { Description = "A publish files a release request that another person with the release permission approves." };
        var policy = new Command("policy", "Set a namespace's release policy (--app, --env, --ns); a switch left out is turned off.") { separate, approval };
        policy.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PutAsync(c.NamespacePath("policy"), new JsonObject { ["separateEditAndRelease"] = c.Parse.GetValue(separate), ["requireApproval"] = c.Parse.GetValue(approval) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"{c.App}/{c.Env}/{c.Ns}: separate edit and release {(n.GetProperty("separateEditAndRelease").GetBoolean() ? "on" : "off")}, approval {(n.GetProperty("requireApproval").GetBoolean() ? "required" : "not required")}");
            return 0;
        });

        var creators = new Option<string[]>("--app-creators") { Description = "Subjects who may create apps (none: every signed-in user).", AllowMultipleArgumentsPerToken = true };
        var retention = new Option<int?>("--audit-retention-days") { Description = "Days the audit keeps entries (0: forever)." };
        var settings = new Command("settings", "Show the center's settings; with --app-creators or --audit-retention-days, change them (root).") { creators, retention };
        settings.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.GetAsync(ConfigApi.Path("settings"), c.CancellationToken);
            if (c.Parse.GetResult(creators) is not null || c.Parse.GetValue(retention) is not null)
            {
                // PUT replaces the settings: what is not given stays as it is.
                var current = answer!.Value;
                var body = new JsonObject
                {
                    ["appCreators"] = c.Parse.GetResult(creators) is null
                        ? JsonNode.Parse(current.GetProperty("appCreators").GetRawText())
                        : new JsonArray([.. (c.Parse.GetValue(creators) ?? []).Select(s => (JsonNode)JsonValue.Create(s)!)]),
                    ["auditRetentionDays"] = c.Parse.GetValue(retention) ?? current.GetProperty("auditRetentionDays").GetInt32(),
                };
                answer = await c.Api.PutAsync(ConfigApi.Path("settings"), body, c.CancellationToken);
            }

            await c.PrintAsync(answer, s =>
                $"app creators: {(s.GetProperty("appCreators").GetArrayLength() == 0 ? "every signed-in user" : string.Join(", ", s.GetProperty("appCreators").EnumerateArray().Select(e => e.GetString())))}; "
                + $"audit kept {(s.GetProperty("auditRetentionDays").GetInt32() is var d and > 0 ? $"{d} days" : "forever")}");
            return 0;
        });

        access.Subcommands.Add(show);
        access.Subcommands.Add(grant);
        access.Subcommands.Add(revoke);
        access.Subcommands.Add(addAdmin);
        access.Subcommands.Add(removeAdmin);
        access.Subcommands.Add(owner);
        access.Subcommands.Add(policy);
        access.Subcommands.Add(settings);
        return access;
    }

    private static string Table(JsonElement a)
    {
        var text = new StringBuilder();
        text.AppendLine($"app {ConfigTables.S(a, "app")}, owner {ConfigTables.S(a, "owner")}");
        var admins = a.GetProperty("admins").EnumerateArray().Select(e => e.GetString()).ToList();
        text.AppendLine($"admins: {(admins.Count == 0 ? "(none)" : string.Join(", ", admins))}");
        text.Append(ConfigTables.Table(a.GetProperty("grants"), ["SUBJECT", "PERMISSION", "ENV", "NAMESPACE"],
            g => [ConfigTables.S(g, "subject"), ConfigTables.S(g, "permission"), ConfigTables.S(g, "env"), ConfigTables.S(g, "namespace")]));
        return text.ToString();
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// <c>conclave config credentials create|list|revoke</c>: the app credentials (access keys) clients of --app in --env
/// present (ADR 0015 decision 5). The key is printed once, at creation.
/// </summary>
internal static class ConfigCredentialCommands
{
    public static Command Create(ConfigOptions options)
    {
        var credentials = new Command("credentials", "Create, list and revoke the app credentials (access keys) of --app in --env; at most two active, for rotation.");

        var name = new Option<string?>("--name") { Description = "What the key is for (e.g. 'orders-api pods')." };
        var create = new Command("create", "Create a credential and print its access key ({id}.{secret}) once: store it now, it is never shown again.") { name };
        create.SetConfigAction(options, async c =>
        {
            var issued = await c.Api.PostAsync(Path(c), new JsonObject { ["name"] = c.Parse.GetValue(name) }, c.CancellationToken);
            if (c.Json)
            {
                await c.PrintAsync(issued, _ => "");
            }
            else if (issued is { } value)
            {
                var credential = value.GetProperty("credential");
                await c.Out.WriteLineAsync($"Created credential {ConfigTables.S(credential, "id")} of {c.App}/{c.Env}. Its access key, shown this once:");
                await c.Out.WriteLineAsync();
                await c.Out.WriteLineAsync($"  {ConfigTables.S(value, "accessKey")}");
                await c.Out.WriteLineAsync();
                await c.Out.WriteLineAsync("Give it to the app as CONCLAVE_ACCESS_KEY (or the AccessKey option); it is sent as the conclave-access-key header.");
            }

            return 0;
        });

        var list = new Command("list", "List the credentials (id, name, the secret's last 4 characters, created, revoked); never the secrets.");
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(Path(c), c.CancellationToken), ConfigTables.Credentials);
            return 0;
        });

        var id = new Argument<string>("ID") { Description = "The credential's id (the part of the key before the dot)." };
        var revoke = new Command("revoke", "Revoke a credential: calls with it are refused and open subscriptions holding it end within seconds.") { id };
        revoke.SetConfigAction(options, async c =>
        {
            var revoked = await c.Api.DeleteAsync(ConfigApi.Path("apps", c.App, "envs", c.Env, "credentials", c.Parse.GetRequiredValue(id)), c.CancellationToken);
            await c.PrintAsync(revoked, v => $"Revoked credential {ConfigTables.S(v, "id")} of {c.App}/{c.Env} ({ConfigTables.Time(v, "revokedAt")} by {ConfigTables.S(v, "revokedBy")}).");
            return 0;
        });

        credentials.Subcommands.Add(create);
        credentials.Subcommands.Add(list);
        credentials.Subcommands.Add(revoke);
        return credentials;
    }

    private static string Path(ConfigContext c) => ConfigApi.Path("apps", c.App, "envs", c.Env, "credentials");
}

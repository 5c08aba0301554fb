using System.CommandLine;
using System.Text.Json.Nodes;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// <c>conclave config ...</c>: the configuration center from the command line, over the JSON API of a member's HTTP
/// listener (<c>--api</c>). Changes carry <c>--author</c> until authentication exists.
/// </summary>
internal static class ConfigCommands
{
    public static Command Create()
    {
        var options = new ConfigOptions();
        var config = new Command("config", "Apps, environments, namespaces, items, releases, rollback, diff, gray release, delivery, app credentials, import and export.");
        options.AddTo(config);
        config.Subcommands.Add(App(options));
        config.Subcommands.Add(Env(options));
        config.Subcommands.Add(Ns(options));
        config.Subcommands.Add(ConfigItemCommands.Create(options));
        config.Subcommands.Add(ConfigReleaseCommands.Release(options));
        config.Subcommands.Add(ConfigReleaseCommands.Rollback(options));
        config.Subcommands.Add(ConfigReleaseCommands.Discard(options));
        config.Subcommands.Add(ConfigReleaseCommands.Diff(options));
        config.Subcommands.Add(ConfigReleaseCommands.History(options));
        config.Subcommands.Add(ConfigGrayCommands.Create(options));
        config.Subcommands.Add(ConfigDeliveryCommands.Instances(options));
        config.Subcommands.Add(ConfigDeliveryCommands.Audit(options));
        config.Subcommands.Add(ConfigCredentialCommands.Create(options));
        config.Subcommands.Add(ConfigWebhookCommands.Create(options));
        config.Subcommands.Add(ConfigTransferCommands.Export(options));
        config.Subcommands.Add(ConfigTransferCommands.Import(options));
        config.Subcommands.Add(ConfigAccessCommands.Access(options));
        config.Subcommands.Add(Keys(options));
        return config;
    }

    private static Command App(ConfigOptions options)
    {
        var app = new Command("app", "List, show, create and delete apps.");

        var list = new Command("list", "List the apps.");
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps"), c.CancellationToken), ConfigTables.Apps);
            return 0;
        });

        var getId = new Argument<string>("ID") { Description = "The app id." };
        var get = new Command("get", "Show one app.") { getId };
        get.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps", c.Parse.GetRequiredValue(getId)), c.CancellationToken), a => ConfigTables.Apps(Array(a)));
            return 0;
        });

        var id = new Argument<string>("ID") { Description = "The app id: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit." };
        var name = new Option<string?>("--name") { Description = "Display name (default: the id)." };
        var owner = new Option<string?>("--owner") { Description = "Owner (default: the author)." };
        var create = new Command("create", "Create an app.") { id, name, owner };
        create.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(ConfigApi.Path("apps"), new JsonObject { ["id"] = c.Parse.GetRequiredValue(id), ["name"] = c.Parse.GetValue(name), ["owner"] = c.Parse.GetValue(owner) }, c.CancellationToken);
            await c.PrintAsync(answer, a => $"created app {ConfigTables.S(a, "id")}");
            return 0;
        });

        var deleteId = new Argument<string>("ID") { Description = "The app to delete; it must have no environments left." };
        var delete = new Command("delete", "Delete an app that has no environments (its audit stays).") { deleteId };
        delete.SetConfigAction(options, async c =>
        {
            var target = c.Parse.GetRequiredValue(deleteId);
            await c.Api.DeleteAsync(ConfigApi.Path("apps", target), c.CancellationToken);
            await DoneAsync(c, $"deleted app {target}");
            return 0;
        });

        app.Subcommands.Add(list);
        app.Subcommands.Add(get);
        app.Subcommands.Add(create);
        app.Subcommands.Add(delete);
        return app;
    }

    private static Command Env(ConfigOptions options)
    {
        var env = new Command("env", "List, create and delete the environments of an app (--app).");

        var list = new Command("list", "List the environments of --app.");
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps", c.App, "envs"), c.CancellationToken), ConfigTables.Environments);
            return 0;
        });

        var name = new Argument<string>("NAME") { Description = "The environment (DEV, FAT, UAT, PRO, ...)." };
        var create = new Command("create", "Create an environment of --app.") { name };
        create.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(ConfigApi.Path("apps", c.App, "envs"), new JsonObject { ["name"] = c.Parse.GetRequiredValue(name) }, c.CancellationToken);
            await c.PrintAsync(answer, e => $"created environment {ConfigTables.S(e, "app")}/{ConfigTables.S(e, "name")}");
            return 0;
        });

        var deleteName = new Argument<string>("NAME") { Description = "The environment to delete; it must have no namespaces left." };
        var delete = new Command("delete", "Delete an environment of --app that has no namespaces.") { deleteName };
        delete.SetConfigAction(options, async c =>
        {
            var target = c.Parse.GetRequiredValue(deleteName);
            await c.Api.DeleteAsync(ConfigApi.Path("apps", c.App, "envs", target), c.CancellationToken);
            await DoneAsync(c, $"deleted environment {c.App}/{target}");
            return 0;
        });

        env.Subcommands.Add(list);
        env.Subcommands.Add(create);
        env.Subcommands.Add(delete);
        return env;
    }

    private static Command Ns(ConfigOptions options)
    {
        var ns = new Command("ns", "List, show, create and delete namespaces (--app, --env); set a document or a JSON Schema.");

        var list = new Command("list", "List the namespaces of --app in --env.");
        list.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(ConfigApi.Path("apps", c.App, "envs", c.Env, "namespaces"), c.CancellationToken), ConfigTables.Namespaces);
            return 0;
        });

        var getName = NameArgument();
        var reveal = RevealOption();
        var get = new Command("get", "Show a namespace's working copy (secret values masked unless --reveal).") { getName, reveal };
        get.SetConfigAction(options, async c =>
        {
            await c.PrintAsync(await c.Api.GetAsync(NsPath(c, c.Parse.GetRequiredValue(getName)) + (c.Parse.GetValue(reveal) ? "?reveal=true" : ""), c.CancellationToken), ConfigTables.Namespace);
            return 0;
        });

        var createName = NameArgument();
        var format = new Option<string>("--format", "-f") { Description = "properties, json, yaml, text or flags (docs/feature-flags.md).", DefaultValueFactory = _ => "properties" };
        format.AcceptOnlyFromAmong("properties", "json", "yaml", "text", "flags");
        var schemaFile = new Option<FileInfo?>("--schema-file") { Description = "A JSON Schema the namespace's document must satisfy at every publish." };
        var isPublic = new Option<bool>("--public") { Description = "Other apps may associate this namespace and override its keys (as Apollo's public namespaces)." };
        var isSecret = new Option<bool>("--secret") { Description = "Every value is secret: each item (or the whole document) is encrypted before it is stored and masked in views (needs a member master key)." };
        var create = new Command("create", "Create a namespace.") { createName, format, schemaFile, isPublic, isSecret };
        create.SetConfigAction(options, async c =>
        {
            var schema = c.Parse.GetValue(schemaFile) is { } file ? await File.ReadAllTextAsync(file.FullName, c.CancellationToken) : null;
            var answer = await c.Api.PostAsync(ConfigApi.Path("apps", c.App, "envs", c.Env, "namespaces"), new JsonObject { ["name"] = c.Parse.GetRequiredValue(createName), ["format"] = c.Parse.GetRequiredValue(format), ["schema"] = schema, ["public"] = c.Parse.GetValue(isPublic), ["secret"] = c.Parse.GetValue(isSecret) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"created {(c.Parse.GetValue(isPublic) ? "public " : "")}{(c.Parse.GetValue(isSecret) ? "secret " : "")}namespace {ConfigTables.S(n, "app")}/{ConfigTables.S(n, "env")}/{ConfigTables.S(n, "name")} ({ConfigTables.S(n, "format")})");
            return 0;
        });

        var associateName = NameArgument();
        var baseApp = new Option<string>("--base-app") { Description = "The app owning the public namespace (same environment and name).", Required = true };
        var associate = new Command("associate", "Associate another app's public namespace: --app gets its own copy whose items override the base's keys.") { associateName, baseApp };
        associate.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(NsPath(c, c.Parse.GetRequiredValue(associateName)) + "/associate", new JsonObject { ["baseApp"] = c.Parse.GetRequiredValue(baseApp) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"{ConfigTables.S(n, "app")}/{ConfigTables.S(n, "env")}/{ConfigTables.S(n, "name")} associates {ConfigTables.S(n, "baseApp")}'s public namespace; its items override the base's");
            return 0;
        });

        var deleteName = NameArgument();
        var force = new Option<bool>("--force") { Description = "Delete even while instances still report it (they keep their last release) or a gray release is running." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Delete without asking (needed when standard input is not a terminal)." };
        var deleteExpect = ExpectOption();
        var delete = new Command("delete", "Delete a namespace with its releases, history and delivery records (asks first unless --yes).") { deleteName, force, yes, deleteExpect };
        delete.SetConfigAction(options, async c =>
        {
            var target = c.Parse.GetRequiredValue(deleteName);
            await ConfirmAsync(c, c.Parse.GetValue(yes), $"delete namespace {c.App}/{c.Env}/{target} with all its releases, history and delivery records");
            var query = new List<string>();
            if (c.Parse.GetValue(force))
            {
                query.Add("force=true");
            }

            if (c.Parse.GetValue(deleteExpect) is > 0 and var expected)
            {
                query.Add($"expectedRevision={expected}");
            }

            await c.Api.DeleteAsync(NsPath(c, target) + (query.Count > 0 ? "?" + string.Join('&', query) : ""), c.CancellationToken);
            await DoneAsync(c, $"deleted namespace {c.App}/{c.Env}/{target}");
            return 0;
        });

        var contentName = NameArgument();
        var contentFile = new Option<FileInfo>("--file") { Description = "The document ('-' reads standard input). For properties, the text is parsed into items.", Required = true };
        var expect = ExpectOption();
        var setContent = new Command("set-content", "Replace the working copy with a document.") { contentName, contentFile, expect };
        setContent.SetConfigAction(options, async c =>
        {
            var content = await ReadFileAsync(c.Parse.GetRequiredValue(contentFile), c.CancellationToken);
            var answer = await c.Api.PutAsync(NsPath(c, c.Parse.GetRequiredValue(contentName)) + "/content", new JsonObject { ["content"] = content, ["expectedRevision"] = c.Parse.GetValue(expect) }, c.CancellationToken);
            await c.PrintAsync(answer, n => $"working copy set; revision {ConfigTables.S(n, "revision")}");
            return 0;
        });

        var schemaName = NameArgument();
        var schemaSource = new Option<FileInfo?>("--file") { Description = "The JSON Schema; omit to remove the namespace's schema." };
        var setSchema = new Command("set-schema", "Attach (or with no --file remove) a JSON Schema.") { schemaName, schemaSource };
        setSchema.SetConfigAction(options, async c =>
        {
            var schema = c.Parse.GetValue(schemaSource) is { } file ? await ReadFileAsync(file, c.CancellationToken) : null;
            var answer = await c.Api.PutAsync(NsPath(c, c.Parse.GetRequiredValue(schemaName)) + "/schema", new JsonObject { ["schema"] = schema }, c.CancellationToken);
            await c.PrintAsync(answer, n => schema is null ? "schema removed" : $"schema set; revision {ConfigTables.S(n, "revision")}");
            return 0;
        });

        ns.Subcommands.Add(list);
        ns.Subcommands.Add(get);
        ns.Subcommands.Add(create);
        ns.Subcommands.Add(associate);
        ns.Subcommands.Add(delete);
        ns.Subcommands.Add(setContent);
        ns.Subcommands.Add(setSchema);
        return ns;
    }

    private static Command Keys(ConfigOptions options)
    {
        var keys = new Command("keys", "The master key that protects secrets.");
        var rotate = new Command("rotate", "Re-wrap every namespace's data key and every webhook signing secret under the member's current master key (the first --config-master-key-file); afterwards older master keys can be removed. Root only when auth is enabled.");
        rotate.SetConfigAction(options, async c =>
        {
            var answer = await c.Api.PostAsync(ConfigApi.Path("keys", "rotate"), null, c.CancellationToken);
            await c.PrintAsync(answer, r =>
            {
                var text = $"master key {ConfigTables.S(r, "masterKeyId")}: {ConfigTables.S(r, "rewrapped")} data keys re-wrapped, {ConfigTables.S(r, "alreadyCurrent")} already under it; " +
                           $"{ConfigTables.S(r, "webhookSecretsRewrapped")} webhook secrets re-wrapped, {ConfigTables.S(r, "webhookSecretsAlreadyCurrent")} already under it";
                foreach (var failure in r.GetProperty("failed").EnumerateArray())
                {
                    text += $"\nnot re-wrapped: {failure.GetString()}";
                }

                return text;
            });
            return answer is { } result && result.GetProperty("failed").GetArrayLength() > 0 ? 1 : 0;
        });
        keys.Subcommands.Add(rotate);
        return keys;
    }

    /// <summary>Show secret values in plaintext (needs the reveal permission; refused otherwise).</summary>
    public static Option<bool> RevealOption() => new("--reveal")
    {
        Description = "Show secret values in plaintext instead of ****** (needs the reveal permission).",
    };

    /// <summary>The namespace revision an edit expects (its <c>revision</c> as read); a change since then is refused.</summary>
    public static Option<long> ExpectOption()
    {
        var option = new Option<long>("--expect-revision")
        {
            Description = "Refuse the change (409) if the namespace changed since this revision (as 'ns get' printed it).",
        };
        option.Validators.Add(result =>
        {
            // 0 (the default) means no guard; a negative number is a mistake, never "no guard".
            if (result.GetValueOrDefault<long>() is var revision and < 0)
            {
                result.AddError($"--expect-revision must be a revision as 'ns get' printed it (a positive number), not {revision}.");
            }
        });
        return option;
    }

    /// <summary>
    /// Asks before a delete that cannot be undone: <c>--yes</c> answers for the caller; without it, a terminal is asked
    /// and a script (standard input not a terminal) is refused, so a delete never happens because nobody was asked.
    /// </summary>
    public static async Task ConfirmAsync(ConfigContext c, bool yes, string what)
    {
        if (yes)
        {
            return;
        }

        if (Console.IsInputRedirected)
        {
            throw new ArgumentException($"{what}: pass --yes to confirm (standard input is not a terminal, so there is nobody to ask).");
        }

        await c.Error.WriteAsync($"{what}. Type yes to confirm: ");
        var answer = await Console.In.ReadLineAsync(c.CancellationToken);
        if (!string.Equals(answer?.Trim(), "yes", StringComparison.OrdinalIgnoreCase) && !string.Equals(answer?.Trim(), "y", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("not confirmed: nothing was deleted.");
        }
    }

    public static async Task<string> ReadFileAsync(FileInfo file, CancellationToken cancellationToken) =>
        file.Name == "-" ? await Console.In.ReadToEndAsync(cancellationToken) : await File.ReadAllTextAsync(file.FullName, cancellationToken);

    /// <summary>Prints the outcome of a change that answers nothing (204): a line for people, an object for -o json.</summary>
    public static Task DoneAsync(ConfigContext c, string message) =>
        c.Out.WriteLineAsync(c.Json ? new JsonObject { ["ok"] = true, ["message"] = message }.ToJsonString() : message);

    private static Argument<string> NameArgument() => new("NAME") { Description = "The namespace (e.g. application)." };

    private static string NsPath(ConfigContext c, string ns) => ConfigApi.Path("apps", c.App, "envs", c.Env, "namespaces", ns);

    private static System.Text.Json.JsonElement Array(System.Text.Json.JsonElement one) =>
        System.Text.Json.JsonElement.Parse("[" + one.GetRawText() + "]");
}

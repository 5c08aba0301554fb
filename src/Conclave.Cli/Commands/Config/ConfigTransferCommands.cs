using System.CommandLine;
using System.Text;
using System.Text.Json;

namespace Conclave.Cli.Commands.Config;

/// <summary><c>conclave config export|import</c>: working copies as a versioned JSON file.</summary>
internal static class ConfigTransferCommands
{
    public static Command Export(ConfigOptions options)
    {
        var file = new Option<FileInfo?>("--file") { Description = "Write the export here (default: standard output)." };
        var export = new Command("export", "Export the working copies of --app (all environments, or --env, or one --ns) as a JSON file.") { file };
        export.SetConfigAction(options, async c =>
        {
            var query = new List<string>();
            if (c.OptionalEnv is { } env)
            {
                query.Add("env=" + Uri.EscapeDataString(env));
            }

            if (c.OptionalNs is { } ns)
            {
                query.Add("ns=" + Uri.EscapeDataString(ns));
            }

            var path = ConfigApi.Path("apps", c.App, "export") + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            var answer = (await c.Api.GetAsync(path, c.CancellationToken))!.Value;
            var text = ConfigJsonText.Indented(answer) + "\n";
            if (c.Parse.GetValue(file) is { } target)
            {
                await File.WriteAllTextAsync(target.FullName, text, new UTF8Encoding(false), c.CancellationToken);
                var count = answer.GetProperty("environments").EnumerateArray().Sum(e => e.GetProperty("namespaces").GetArrayLength());
                await ConfigCommands.DoneAsync(c, $"exported {count} namespace(s) of {c.App} to {target.FullName}");
            }
            else
            {
                await c.Out.WriteAsync(text);
            }

            return 0;
        });
        return export;
    }

    public static Command Import(ConfigOptions options)
    {
        var file = new Option<FileInfo>("--file") { Description = "An export file ('-' reads standard input).", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace working copies that have unpublished edits (otherwise they are reported as conflicts)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Write nothing; say what would happen." };
        var import = new Command("import", "Import an export file into --app's working copies (into --env if the file holds one environment). Publishing is separate.") { file, overwrite, dryRun };
        import.SetConfigAction(options, async c =>
        {
            var text = await ConfigCommands.ReadFileAsync(c.Parse.GetRequiredValue(file), c.CancellationToken);
            var query = new List<string>();
            if (c.OptionalEnv is { } env)
            {
                query.Add("env=" + Uri.EscapeDataString(env));
            }

            if (c.Parse.GetValue(overwrite))
            {
                query.Add("overwrite=true");
            }

            if (c.Parse.GetValue(dryRun))
            {
                query.Add("dryRun=true");
            }

            var path = ConfigApi.Path("apps", c.App, "import") + (query.Count > 0 ? "?" + string.Join('&', query) : "");
            var answer = await c.Api.SendAsync(HttpMethod.Post, path, text, c.CancellationToken);
            await c.PrintAsync(answer, r => ConfigTables.Table(r.GetProperty("namespaces"), ["ENV", "NAMESPACE", "ACTION", "DETAIL"],
                n => [ConfigTables.S(n, "env"), ConfigTables.S(n, "namespace"), ConfigTables.S(n, "action"), ConfigTables.S(n, "detail")]));
            var problems = answer?.GetProperty("namespaces").EnumerateArray().Count(n => ConfigTables.S(n, "action") is "Conflict" or "Invalid") ?? 0;
            if (problems > 0)
            {
                await c.Error.WriteLineAsync($"Error: {problems} namespace(s) not imported (see ACTION and DETAIL); the others were imported, each on its own.");
                return ConfigRunner.Failure;
            }

            return 0;
        });
        return import;
    }
}

using System.CommandLine;
using System.Text.Json;

namespace Conclave.Cli.Commands.Config;

/// <summary>What a <c>conclave config</c> command's action works with.</summary>
internal sealed record ConfigContext(ParseResult Parse, ConfigOptions Options, ConfigApi Api, bool Json, TextWriter Out, TextWriter Error, CancellationToken CancellationToken)
{
    public string App => Required(Options.App, "--app");

    public string Env => Required(Options.Env, "--env");

    public string Ns => Required(Options.Ns, "--ns");

    public string? OptionalEnv => Parse.GetValue(Options.Env);

    public string? OptionalNs => Parse.GetValue(Options.Ns);

    /// <summary><c>/api/v1/apps/{app}/envs/{env}/namespaces/{ns}</c> followed by <paramref name="more"/>.</summary>
    public string NamespacePath(params string[] more) => ConfigApi.Path(["apps", App, "envs", Env, "namespaces", Ns, .. more]);

    /// <summary>Prints the API's answer as one JSON line (-o json) or through <paramref name="table"/>.</summary>
    public async Task PrintAsync(JsonElement? answer, Func<JsonElement, string> table)
    {
        if (answer is not { } value)
        {
            return;
        }

        await Out.WriteLineAsync(Json ? ConfigJsonText.Compact(value) : table(value).TrimEnd('\n'));
    }

    private string Required(Option<string?> option, string name) =>
        Parse.GetValue(option) is { Length: > 0 } value ? value : throw new ArgumentException($"{name} is required for this command.");
}

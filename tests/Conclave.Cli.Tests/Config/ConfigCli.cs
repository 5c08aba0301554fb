using System.CommandLine;
using Conclave.Cli.Commands.Config;

namespace Conclave.Cli.Tests.Config;

/// <summary>Runs <c>conclave config ...</c> in-process against a node's HTTP API and captures what it prints.</summary>
internal sealed class ConfigCli(TestNode node, string author = "alice", string? api = null)
{
    public async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand("conclave (test)") { ConfigCommands.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await root.Parse(["config", "--api", api ?? node.HttpUrl, "--author", author, .. args])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs a command that must succeed and returns its output.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        var (code, output, error) = await RunAsync(args);
        Assert.True(code == 0, $"conclave config {string.Join(' ', args)} exited {code}: {error}");
        return output;
    }
}

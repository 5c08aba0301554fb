using System.CommandLine;
using Conclave.Cli.Commands.Client;

namespace Conclave.Concurrency.Tests.Cli;

/// <summary>Runs the <c>conclave</c> client commands in-process; a cancellation token stands in for Ctrl-C.</summary>
internal static class CliRun
{
    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, new StringWriter(), CancellationToken.None);

    /// <summary>Runs a command writing to <paramref name="output"/> (thread-safe, so a test can read it while the command runs).</summary>
    public static async Task<CliResult> RunAsync(string[] args, StringWriter output, CancellationToken ctrlC)
    {
        var root = new RootCommand("conclave (test)");
        foreach (var command in ClientCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        var error = new StringWriter();
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = TextWriter.Synchronized(output), Error = TextWriter.Synchronized(error) }, ctrlC);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}

internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Error}";
}

using System.CommandLine;
using Conclave.Cli.Commands.Client;

namespace Conclave.Client.Tests.Cli;

/// <summary>Runs the <c>conclave</c> client commands in-process and captures what they print.</summary>
internal static class CliRun
{
    private static readonly SemaphoreSlim StdinGate = new(1, 1);

    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var root = new RootCommand("conclave (test)");
        foreach (var command in ClientCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs a command that reads standard input (kv txn).</summary>
    public static async Task<CliResult> RunWithInputAsync(string input, params string[] args)
    {
        await StdinGate.WaitAsync();
        var original = Console.In;
        try
        {
            Console.SetIn(new StringReader(input));
            return await RunAsync(args);
        }
        finally
        {
            Console.SetIn(original);
            StdinGate.Release();
        }
    }
}

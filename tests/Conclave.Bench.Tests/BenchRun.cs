using System.CommandLine;

namespace Conclave.Bench.Tests;

/// <summary>Runs <c>conclave-bench</c> in-process, as the scripts under bench/ run it, and captures what it prints.</summary>
internal static class BenchRun
{
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await BenchCommand.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }
}

using System.Diagnostics;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>
/// Runs the <c>dotnet</c> CLI as a user would (pack, restore, build, run an app) and collects what it prints. Build
/// servers are off (<c>--disable-build-servers</c> where the command takes it), so no MSBuild node or compiler server
/// outlives the test; the MSBuild variables of the <c>dotnet test</c> run that hosts us are not passed on.
/// </summary>
internal static class DotnetCli
{
    /// <summary>Starts <c>dotnet ARGS</c> in <paramref name="directory"/>; the caller owns (and kills) the process.</summary>
    public static Process Start(IReadOnlyList<string> args, string directory, IReadOnlyDictionary<string, string> environment, ITestOutputHelper output, List<string> printed)
    {
        var info = new ProcessStartInfo(DotnetHost.Muxer)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;

        void Collect(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (printed)
            {
                printed.Add(line);
            }

            TestOutput.TryWriteLine(output, line);
        }
    }

    /// <summary>Runs <c>dotnet ARGS</c> to the end; fails the test with what it printed when it exits non-zero or outlives <paramref name="timeout"/>.</summary>
    public static async Task RunAsync(IReadOnlyList<string> args, string directory, IReadOnlyDictionary<string, string> environment, ITestOutputHelper output, TimeSpan timeout)
    {
        var printed = new List<string>();
        var started = Stopwatch.GetTimestamp();
        using var process = Start(args, directory, environment, output, printed);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:F0} s:\n{Printed(printed)}");
        }

        TestOutput.TryWriteLine(output, $"dotnet {string.Join(' ', args)}: exit {process.ExitCode} after {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {process.ExitCode}:\n{Printed(printed)}");
    }

    public static string Printed(List<string> printed)
    {
        lock (printed)
        {
            return string.Join('\n', printed.TakeLast(80));
        }
    }
}

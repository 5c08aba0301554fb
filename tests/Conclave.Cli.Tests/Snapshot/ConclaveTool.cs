using System.Diagnostics;
using System.Text;

namespace Conclave.Cli.Tests.Snapshot;

/// <summary>
/// Runs the real <c>conclave</c> executable as an operator would (the native build when <c>CONCLAVE_SERVER_BINARY</c>
/// names it, else the JIT build next to the tests), captures what it prints, and kills it at the deadline.
/// </summary>
internal static class ConclaveTool
{
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(ITestOutputHelper? output, TimeSpan timeout, params string[] args)
    {
        string[] command = DotnetHost.NativeServer is { } native ? [native] : [DotnetHost.Muxer, DotnetHost.ConclaveDll];
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in command.Skip(1).Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("conclave did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"conclave {string.Join(' ', args)} still ran after {timeout}; printed: {await stdout}{await stderr}");
        }

        var (o, e) = (await stdout, await stderr);
        TestOutput.TryWriteLine(output, $"$ conclave {string.Join(' ', args)}  -> exit {process.ExitCode}\n{o}{e}");
        return (process.ExitCode, o, e);
    }

    /// <summary>Runs a command that must succeed and returns its standard output.</summary>
    public static async Task<string> OkAsync(ITestOutputHelper? output, params string[] args)
    {
        var (code, o, e) = await RunAsync(output, TimeSpan.FromMinutes(2), args);
        Assert.True(code == 0, new StringBuilder($"conclave {string.Join(' ', args)} exited {code}: ").Append(e).Append(o).ToString());
        return o;
    }
}

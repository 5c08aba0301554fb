using System.Diagnostics;

namespace Conclave.Server.Tests.Operations;

/// <summary>Runs the <c>conclave</c> executable (the native binary when the run names one) to its end, for start-up errors.</summary>
internal static class ConclaveCommand
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, params string[] args)
    {
        var native = DotnetHost.NativeServer;
        var info = new ProcessStartInfo(native ?? DotnetHost.Muxer)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (native is null)
        {
            info.ArgumentList.Add(DotnetHost.ConclaveDll);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("conclave did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"conclave {string.Join(' ', args)} did not exit within 60 s");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}

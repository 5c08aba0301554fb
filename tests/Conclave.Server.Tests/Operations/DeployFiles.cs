using System.Diagnostics;

namespace Conclave.Server.Tests.Operations;

/// <summary>The files under <c>deploy/</c> and Debian's Prometheus tools (package <c>prometheus</c>, which test.sh installs).</summary>
internal static class DeployFiles
{
    public const string Prometheus = "/usr/bin/prometheus";
    public const string Promtool = "/usr/bin/promtool";

    public static string Directory() => RepositoryPaths.Of("deploy");

    public static string Rules => Path.Combine(Directory(), "prometheus", "conclave-rules.yml");

    public static string RulesTests => Path.Combine(Directory(), "prometheus", "conclave-rules.test.yml");

    public static string Dashboard => Path.Combine(Directory(), "grafana", "conclave-dashboard.json");

    /// <summary>Runs a tool to its end (at most a minute) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish within a minute");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}

using System.Diagnostics;

namespace Conclave.Testing;

/// <summary>Runs the real etcd v3 command-line client (<c>/usr/bin/etcdctl</c>, API v3) against a node.</summary>
public static class Etcdctl
{
    public const string DefaultPath = "/usr/bin/etcdctl";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static string Path => Environment.GetEnvironmentVariable("CONCLAVE_TEST_ETCDCTL") is { Length: > 0 } p ? p : DefaultPath;

    /// <summary>Runs <c>etcdctl --endpoints=ENDPOINT ARGS...</c> and returns what it printed.</summary>
    public static Task<EtcdctlResult> RunAsync(string endpoint, params string[] args) =>
        RunAsync(endpoint, args, stdin: null);

    /// <summary>
    /// Runs <c>etcdctl --endpoints=ENDPOINT ARGS...</c>, writing <paramref name="stdin"/> (if any) and closing
    /// its input. Killed and reported as a <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<EtcdctlResult> RunAsync(string endpoint, string[] args, string? stdin, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var process = Create(endpoint, args, redirectInput: true);
        var allArgs = process.StartInfo.ArgumentList.ToArray();
        process.Start();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // etcdctl exited before reading its input; its output says why.
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"etcdctl {string.Join(' ', allArgs)} did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:F0} s\n" +
                $"--- stdout ---\n{await stdout}\n--- stderr ---\n{await stderr}");
        }

        return new EtcdctlResult(allArgs, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts a long-running etcdctl (e.g. <c>watch</c>) in the background; dispose it to kill it.</summary>
    public static EtcdctlProcess Start(string endpoint, params string[] args)
    {
        var process = Create(endpoint, args, redirectInput: false);
        return EtcdctlProcess.Start(process);
    }

    internal static IReadOnlyList<string> SplitLines(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    private static Process Create(string endpoint, string[] args, bool redirectInput)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} is missing: install etcdctl 3.4 (Debian package 'etcd-client').");
        }

        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        info.ArgumentList.Add($"--endpoints={endpoint}");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Only what the test says: no endpoints, credentials or output formats from the environment.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("ETCDCTL_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["ETCDCTL_API"] = "3";
        return new Process { StartInfo = info };
    }
}

using System.Diagnostics;
using Xunit.Abstractions;

namespace Conclave.Testing;

/// <summary>
/// Runs a Node.js program from <c>tests/clients/NAME</c>: a real npm client of the etcd protocol, its versions pinned by
/// the folder's <c>package-lock.json</c>. Installs the locked packages with <c>npm ci</c> when they are missing or older
/// than the lockfile (<c>test.sh</c> does it before the tests), forwards every line the program prints to the test
/// output as it comes, and kills the program's process tree at the deadline.
/// </summary>
public static class NodeProgram
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);

    private static readonly SemaphoreSlim Install = new(1, 1);

    /// <summary>The folder of the client program <paramref name="name"/> (<c>tests/clients/NAME</c> of this repository).</summary>
    public static string ClientDirectory(string name)
    {
        var client = RepositoryPaths.Of("tests", "clients", name);
        return Directory.Exists(client) ? client : throw new DirectoryNotFoundException($"{client} does not exist");
    }

    /// <summary>
    /// Runs <c>node SCRIPT ARGS...</c> in the client folder <paramref name="name"/> and returns what it printed once it
    /// exits; a <see cref="TimeoutException"/> (with the output so far) if it is still running after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<NodeProgramResult> RunAsync(
        string name, string script, IReadOnlyList<string> args, ITestOutputHelper? output, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var directory = ClientDirectory(name);
        await EnsurePackagesAsync(directory, output, cancellationToken);
        var commandLine = $"node {script} {string.Join(' ', args)}";
        var (exitCode, stdout, stderr) = await RunAsync(Find("node"), [script, .. args], directory, output, timeout, commandLine, cancellationToken);
        return new NodeProgramResult(commandLine, exitCode, stdout, stderr);
    }

    /// <summary>
    /// Runs <paramref name="program"/> (e.g. <c>node</c> or <c>npm</c> from <see cref="Find"/>) in <paramref name="directory"/>
    /// with extra <paramref name="environment"/> variables, forwarding each line like <see cref="RunAsync(string, string, IReadOnlyList{string}, ITestOutputHelper?, TimeSpan, CancellationToken)"/>.
    /// </summary>
    public static async Task<NodeProgramResult> RunInAsync(
        string directory, string program, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment, ITestOutputHelper? output, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var commandLine = $"{Path.GetFileName(program)} {string.Join(' ', args)}";
        var (exitCode, stdout, stderr) = await RunAsync(program, args, directory, output, timeout, commandLine, cancellationToken, environment);
        return new NodeProgramResult(commandLine, exitCode, stdout, stderr);
    }

    /// <summary>Installs the locked packages of a client folder (<c>npm ci</c>) when they are missing or older than its lockfile.</summary>
    public static async Task EnsurePackagesAsync(string directory, ITestOutputHelper? output, CancellationToken cancellationToken)
    {
        await Install.WaitAsync(cancellationToken);
        try
        {
            // npm writes node_modules/.package-lock.json last on a successful install.
            var installed = new FileInfo(Path.Combine(directory, "node_modules", ".package-lock.json"));
            if (installed.Exists && installed.LastWriteTimeUtc >= File.GetLastWriteTimeUtc(Path.Combine(directory, "package-lock.json")))
            {
                return;
            }

            var (exitCode, stdout, stderr) = await RunAsync(
                Find("npm"), ["ci", "--no-audit", "--no-fund", "--loglevel=error"], directory, output, InstallTimeout, $"npm ci in {directory}", cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"npm ci in {directory} failed (exit {exitCode}):\n{string.Join('\n', stdout)}\n{stderr}");
            }
        }
        finally
        {
            Install.Release();
        }
    }

    private static async Task<(int ExitCode, IReadOnlyList<string> Stdout, string Stderr)> RunAsync(
        string program, IReadOnlyList<string> args, string directory, ITestOutputHelper? output, TimeSpan timeout, string description, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
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

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var stdout = new List<string>();
        var stderr = new List<string>();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Collect(stdout, e.Data, output, "");
        process.ErrorDataReceived += (_, e) => Collect(stderr, e.Data, output, "stderr: ");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{description} did not finish within {timeout.TotalSeconds:F0} s\n{Printed(stdout, stderr)}");
        }

        // WaitForExitAsync returns after the redirected streams reached their end.
        lock (stdout)
        {
            lock (stderr)
            {
                return (process.ExitCode, [.. stdout], string.Join('\n', stderr));
            }
        }
    }

    private static void Collect(List<string> lines, string? line, ITestOutputHelper? output, string prefix)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
        }

        TestOutput.TryWriteLine(output, prefix + line);
    }

    private static string Printed(List<string> stdout, List<string> stderr)
    {
        lock (stdout)
        {
            lock (stderr)
            {
                return $"--- stdout ---\n{string.Join('\n', stdout)}\n--- stderr ---\n{string.Join('\n', stderr)}";
            }
        }
    }

    /// <summary>The full path of a program on PATH.</summary>
    public static string Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{program} is not on PATH: install Node.js 18 or later with npm (Debian: apt-get install nodejs npm).");
}

using System.Diagnostics;
using System.Net;
using System.Text;

namespace Conclave.Testing;

/// <summary>
/// The real <c>conclave serve</c> as a child process (<c>dotnet conclave.dll serve ...</c>) on free loopback
/// ports. Ready once <c>/health</c> answers 200. Its stdout and stderr are appended to
/// <see cref="LogPath"/> in the data directory. Disposing always kills it; the data directory belongs to the
/// caller and is kept (so a test can restart on it).
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    public const string LogFileName = "conclave-process.log";

    private const int MaxStartAttempts = 3;
    private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromSeconds(2) };

    private readonly NodeProcessOptions options;
    private readonly HttpClient probe;
    private readonly object logLock = new();
    private readonly Queue<string> tail = new();
    private StreamWriter? log;
    private Process? process;
    private int? exitCode;

    private NodeProcess(string dataDirectory, NodeProcessOptions options, int[] ports)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        this.options = options;
        var scheme = options.Tls is null ? "http" : "https";
        Endpoint = $"{scheme}://{options.Host}:{ports[0]}";
        HttpUrl = $"{scheme}://{options.Host}:{ports[1]}";
        PeerUrl = $"{scheme}://{options.Host}:{ports[2]}";
        probe = options.Tls is null ? Probe : new HttpClient(options.Tls.CreateHandler()) { Timeout = Probe.Timeout };
        LogPath = Path.Combine(DataDirectory, LogFileName);
    }

    /// <summary>gRPC (etcd v3) URL.</summary>
    public string Endpoint { get; }

    /// <summary>HTTP/1.1 URL of /health, /metrics and the JSON gateway.</summary>
    public string HttpUrl { get; }

    public string PeerUrl { get; }

    public string DataDirectory { get; }

    /// <summary>The process's stdout and stderr, every start appended.</summary>
    public string LogPath { get; }

    /// <summary>Process id of the current (or last) run.</summary>
    public int Pid { get; private set; }

    /// <summary>Time from starting the process to the first 200 from /health, for the last start.</summary>
    public TimeSpan StartupTime { get; private set; }

    public bool HasExited => process is null || process.HasExited;

    /// <summary>Exit code of the last run once it has exited (137-style kills report -1 or the signal's code).</summary>
    public int? ExitCode => exitCode;

    /// <summary>
    /// Starts <c>conclave serve</c> on <paramref name="dataDirectory"/> and waits until it is healthy. A fresh
    /// (empty) data directory is retried on new ports if another process took a probed port first.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(string dataDirectory, NodeProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NodeProcessOptions();
        Directory.CreateDirectory(dataDirectory);
        var fresh = !Directory.EnumerateFileSystemEntries(dataDirectory).Any();
        for (var attempt = 1; ; attempt++)
        {
            var node = new NodeProcess(dataDirectory, options, FreePorts.Take(3));
            try
            {
                await node.LaunchAsync(cancellationToken, waitForHealth: true);
                return node;
            }
            catch (NodeStartException e) when (fresh && e.AddressInUse && attempt < MaxStartAttempts)
            {
                await node.DisposeAsync();
                TestOutput.TryWriteLine(options.Output, $"conclave serve lost a port race (attempt {attempt}); retrying on new ports");
                // The first start may already have recorded the lost peer URL: begin again from nothing.
                foreach (var entry in Directory.EnumerateFileSystemEntries(dataDirectory).Where(p => Path.GetFileName(p) != LogFileName))
                {
                    if (Directory.Exists(entry))
                    {
                        Directory.Delete(entry, recursive: true);
                    }
                    else
                    {
                        File.Delete(entry);
                    }
                }
            }
            catch
            {
                await node.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Starts <c>conclave serve</c> on the given ports (client, http, peer), e.g. a member of a cluster whose
    /// peer URLs had to be known in advance. No retry on a port race: the caller chose the ports.
    /// </summary>
    /// <param name="waitForHealth">Wait for /health 200 (a cluster member is healthy only once a quorum is up).</param>
    public static async Task<NodeProcess> StartOnPortsAsync(string dataDirectory, int[] ports, NodeProcessOptions options, bool waitForHealth, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(ports.Length, 3, nameof(ports));
        Directory.CreateDirectory(dataDirectory);
        var node = new NodeProcess(dataDirectory, options, ports);
        try
        {
            await node.LaunchAsync(cancellationToken, waitForHealth);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>A gRPC channel to <see cref="Endpoint"/> (over TLS with the test's client certificate when the member has <see cref="NodeProcessOptions.Tls"/>); the caller disposes it.</summary>
    public Grpc.Net.Client.GrpcChannel CreateChannel() =>
        options.Tls is { } tls ? tls.CreateChannel(Endpoint) : Grpc.Net.Client.GrpcChannel.ForAddress(Endpoint);

    /// <summary>An HTTP client whose base address is <see cref="HttpUrl"/> (TLS as <see cref="CreateChannel"/>); the caller disposes it.</summary>
    public HttpClient CreateHttpClient() =>
        new(options.Tls is { } tls ? tls.CreateHandler() : new SocketsHttpHandler()) { BaseAddress = new Uri(HttpUrl), Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Waits until /health answers 200 (the member is up and knows a leader).</summary>
    public Task WaitUntilHealthyAsync(CancellationToken cancellationToken = default) =>
        WaitUntilHealthyAsync(process ?? throw new InvalidOperationException("not started"), Stopwatch.StartNew(), cancellationToken);

    /// <summary>SIGSTOP: the process freezes (no timers, no sockets answered) until <see cref="Resume"/>.</summary>
    public void Pause() => PosixSignals.Send(Pid, PosixSignals.SigStop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => PosixSignals.Send(Pid, PosixSignals.SigCont);

    /// <summary>Starts the process again on the same data directory and ports (after <see cref="Kill"/> or <see cref="StopAsync"/>).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (!HasExited)
        {
            throw new InvalidOperationException($"conclave (pid {Pid}) is still running; kill or stop it first");
        }

        await LaunchAsync(cancellationToken, waitForHealth: true);
    }

    /// <summary>Starts the process again without waiting for /health (a member that needs its peers to be healthy).</summary>
    public async Task RestartWithoutWaitingAsync(CancellationToken cancellationToken = default)
    {
        if (!HasExited)
        {
            throw new InvalidOperationException($"conclave (pid {Pid}) is still running; kill or stop it first");
        }

        await LaunchAsync(cancellationToken, waitForHealth: false);
    }

    /// <summary>SIGKILL: no shutdown code runs. Returns once the process is gone.</summary>
    public void Kill()
    {
        var p = process;
        if (p is null)
        {
            return;
        }

        var killed = false;
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                killed = true;
            }

            // Also drains the redirected output.
            p.WaitForExit();
            exitCode = p.ExitCode;
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        if (killed)
        {
            WriteMarker($"killed (SIGKILL), exit code {exitCode}");
        }
    }

    /// <summary>
    /// SIGTERM, then waits for the process to exit. Returns the time from the signal to the exit; if it is
    /// still running after <paramref name="timeout"/>, kills it and throws <see cref="TimeoutException"/>.
    /// </summary>
    public async Task<TimeSpan> StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var p = process ?? throw new InvalidOperationException("not started");
        if (p.HasExited)
        {
            return TimeSpan.Zero;
        }

        var clock = Stopwatch.StartNew();
        PosixSignals.Send(p.Id, PosixSignals.SigTerm);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var waited = clock.Elapsed;
            Kill();
            throw new TimeoutException($"conclave (pid {p.Id}) did not exit within {waited.TotalSeconds:F1} s of SIGTERM; killed it.\n{Tail()}");
        }

        var elapsed = clock.Elapsed;
        exitCode = p.ExitCode;
        WriteMarker($"stopped (SIGTERM) in {elapsed.TotalMilliseconds:F0} ms, exit code {exitCode}");
        return elapsed;
    }

    /// <summary>The log file so far (for diagnostics).</summary>
    public string ReadLog()
    {
        lock (logLock)
        {
            log?.Flush();
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        process?.Dispose();
        process = null;
        if (!ReferenceEquals(probe, Probe))
        {
            probe.Dispose();
        }

        lock (logLock)
        {
            log?.Dispose();
            log = null;
        }

        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"conclave pid {Pid} grpc {Endpoint} http {HttpUrl} data {DataDirectory}";

    private async Task LaunchAsync(CancellationToken cancellationToken, bool waitForHealth)
    {
        process?.Dispose();
        process = null;
        exitCode = null;
        lock (logLock)
        {
            log ??= new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), Encoding.UTF8) { AutoFlush = true };
            tail.Clear();
        }

        // The shipped native binary when the test run names one (test.sh does, after ./conclave built it); else the
        // JIT build of the same sources next to the tests. A launcher (e.g. `ip netns exec NS`) goes in front.
        string[] command =
        [
            .. options.Launcher,
            .. (options.Binary ?? DotnetHost.NativeServer) is { } native ? [native] : (string[])[DotnetHost.Muxer, DotnetHost.ConclaveDll],
        ];
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = DataDirectory,
        };
        foreach (var arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in (string[])
        [
            "serve",
            "--name", options.Name,
            "--data-dir", DataDirectory,
            "--listen-client-urls", Endpoint,
            "--listen-http-urls", HttpUrl,
            "--listen-peer-urls", PeerUrl,
            .. options.Tls?.Arguments ?? [],
            .. options.ExtraArguments,
        ])
        {
            info.ArgumentList.Add(arg);
        }

        // The parent's hosting variables must not move the child's listeners.
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "ASPNETCORE_ENVIRONMENT" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        var p = new Process { StartInfo = info, EnableRaisingEvents = true };
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data is null ? null : "stderr: " + e.Data);
        WriteMarker($"starting: {info.FileName} {string.Join(' ', info.ArgumentList)}");
        var clock = Stopwatch.StartNew();
        if (!p.Start())
        {
            throw new InvalidOperationException("conclave did not start");
        }

        process = p;
        Pid = p.Id;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!waitForHealth)
        {
            return;
        }

        await WaitUntilHealthyAsync(p, clock, cancellationToken);
        StartupTime = clock.Elapsed;
        WriteMarker($"healthy after {StartupTime.TotalMilliseconds:F0} ms (pid {Pid})");
    }

    private async Task WaitUntilHealthyAsync(Process p, Stopwatch clock, CancellationToken cancellationToken)
    {
        var health = new Uri(HttpUrl + "/health");
        string? lastProblem = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (p.HasExited)
            {
                await p.WaitForExitAsync(cancellationToken);
                exitCode = p.ExitCode;
                var text = Tail();
                throw new NodeStartException(
                    $"conclave exited with code {p.ExitCode} before it was healthy:\n{text}",
                    text.Contains("address already in use", StringComparison.OrdinalIgnoreCase));
            }

            if (clock.Elapsed > options.StartTimeout)
            {
                Kill();
                throw new NodeStartException($"conclave did not answer /health with 200 within {options.StartTimeout.TotalSeconds:F0} s (last: {lastProblem}):\n{Tail()}", addressInUse: false);
            }

            try
            {
                using var response = await probe.GetAsync(health, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                lastProblem = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lastProblem = e.Message;
            }

            // The process is starting up; polling at a short interval keeps the measured startup time honest.
            await Task.Delay(TimeSpan.FromMilliseconds(10), cancellationToken);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (logLock)
        {
            log?.WriteLine(line);
            tail.Enqueue(line);
            while (tail.Count > 200)
            {
                tail.Dequeue();
            }
        }

        TestOutput.TryWriteLine(options.Output, $"[conclave {Pid}] {line}");
    }

    private void WriteMarker(string text) => Append($"=== {DateTime.UtcNow:HH:mm:ss.fff} {text}");

    private string Tail()
    {
        lock (logLock)
        {
            return string.Join(Environment.NewLine, tail);
        }
    }
}

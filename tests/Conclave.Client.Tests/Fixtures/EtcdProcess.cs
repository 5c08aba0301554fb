using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Conclave.Client.Tests.Fixtures;

/// <summary>
/// One etcd member started from <c>/usr/bin/etcd</c> on loopback ports with a temporary data directory: alone
/// (<see cref="StartAsync"/>) or as part of a cluster (<see cref="StartClusterAsync"/>). Killed by its own PID on
/// dispose; the data directory is deleted.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    public const string Binary = "/usr/bin/etcd";

    private readonly string _dataRoot;
    private readonly string _name;
    private readonly int _clientPort;
    private readonly int _peerPort;
    private readonly StringBuilder _log = new();
    private string _initialCluster;
    private Process? _process;

    private EtcdProcess(string name, int clientPort, int peerPort)
    {
        _dataRoot = Directory.CreateTempSubdirectory("conclave-client-tests-etcd-").FullName;
        _name = name;
        _clientPort = clientPort;
        _peerPort = peerPort;
        _initialCluster = $"{name}={PeerUrl}";
    }

    public string ClientUrl => $"http://127.0.0.1:{_clientPort}";

    public string PeerUrl => $"http://127.0.0.1:{_peerPort}";

    public int? Pid => _process?.Id;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static async Task<EtcdProcess> StartAsync(CancellationToken cancellationToken) =>
        (await StartClusterAsync(1, cancellationToken))[0];

    /// <summary>Starts <paramref name="size"/> members that form one cluster; returns when every member sees a leader.</summary>
    public static async Task<EtcdProcess[]> StartClusterAsync(int size, CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install etcd 3.4 (Debian package 'etcd-server') to run the client tests.");
        }

        var ports = FreePorts.Take(2 * size);
        var members = new EtcdProcess[size];
        for (var i = 0; i < size; i++)
        {
            members[i] = new EtcdProcess($"member{i}", ports[2 * i], ports[(2 * i) + 1]);
        }

        var initialCluster = string.Join(',', members.Select(m => $"{m._name}={m.PeerUrl}"));
        try
        {
            foreach (var member in members)
            {
                member._initialCluster = initialCluster;
                member.Launch();
            }

            // A member of a larger cluster only gets a leader once a majority runs, so launch all before waiting.
            foreach (var member in members)
            {
                await member.WaitUntilServingAsync(cancellationToken);
            }

            return members;
        }
        catch
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>SIGKILLs the process (no graceful shutdown) and leaves it down.</summary>
    public void KillOnly() => Kill();

    /// <summary>SIGKILLs the process (no graceful shutdown) and starts it again on the same data directory and ports.</summary>
    public async Task KillAndRestartAsync(CancellationToken cancellationToken)
    {
        Kill();
        await StartProcessAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }

        await Task.CompletedTask;
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        Launch();
        await WaitUntilServingAsync(cancellationToken);
    }

    private void Launch()
    {
        var peerUrl = PeerUrl;
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", _name,
            "--data-dir", Path.Combine(_dataRoot, "data"),
            "--listen-client-urls", ClientUrl,
            "--advertise-client-urls", ClientUrl,
            "--listen-peer-urls", peerUrl,
            "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", _initialCluster,
            "--logger", "zap",
            "--log-level", "warn",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("etcd did not start.");
        }

        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private async Task WaitUntilServingAsync(CancellationToken cancellationToken)
    {
        var process = _process ?? throw new InvalidOperationException("etcd was not launched.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        await using var client = new Conclave.Client.ConclaveClient(new Conclave.Client.ConclaveClientOptions
        {
            Endpoints = [ClientUrl],
            MaxAttempts = 1,
            RequestTimeout = TimeSpan.FromSeconds(2),
        });
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"etcd exited with code {process.ExitCode} while starting:\n{Log}");
            }

            try
            {
                // A served status with a leader means the member is ready for linearizable requests.
                var status = await client.StatusAsync(cancellationToken: timeout.Token);
                if (status.Leader != 0)
                {
                    return;
                }
            }
            catch (Conclave.Client.ConclaveException)
            {
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"etcd on {ClientUrl} did not become ready in 20 s:\n{Log}");
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.Length < 64 * 1024)
            {
                _log.AppendLine(line);
            }
        }
    }

    private void Kill()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: false);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }
}

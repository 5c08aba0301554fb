using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Conclave.Client.Tests.Fixtures;

/// <summary>
/// A single-member etcd started from <c>/usr/bin/etcd</c> on loopback ports with a temporary data directory.
/// Killed by its own PID on dispose; the data directory is deleted.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    public const string Binary = "/usr/bin/etcd";

    private readonly string _dataRoot;
    private readonly int _clientPort;
    private readonly int _peerPort;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private EtcdProcess(string dataRoot, int clientPort, int peerPort)
    {
        _dataRoot = dataRoot;
        _clientPort = clientPort;
        _peerPort = peerPort;
    }

    public string ClientUrl => $"http://127.0.0.1:{_clientPort}";

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

    public static async Task<EtcdProcess> StartAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install etcd 3.4 (Debian package 'etcd-server') to run the client tests.");
        }

        var ports = FreePorts.Take(2);
        var etcd = new EtcdProcess(Directory.CreateTempSubdirectory("conclave-client-tests-etcd-").FullName, ports[0], ports[1]);
        try
        {
            await etcd.StartProcessAsync(cancellationToken);
            return etcd;
        }
        catch
        {
            await etcd.DisposeAsync();
            throw;
        }
    }

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
        var peerUrl = $"http://127.0.0.1:{_peerPort}";
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", "client-tests",
            "--data-dir", Path.Combine(_dataRoot, "data"),
            "--listen-client-urls", ClientUrl,
            "--advertise-client-urls", ClientUrl,
            "--listen-peer-urls", peerUrl,
            "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", $"client-tests={peerUrl}",
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
        await WaitUntilServingAsync(process, cancellationToken);
    }

    private async Task WaitUntilServingAsync(Process process, CancellationToken cancellationToken)
    {
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

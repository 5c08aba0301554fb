using System.Diagnostics;
using System.Text;
using Conclave.Api.Etcd;
using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Lean;

/// <summary>
/// A real etcd 3.4 (<c>/usr/bin/etcd</c>) on free loopback ports with a temporary data directory; killed by its
/// PID and its directory deleted on dispose.
/// </summary>
public sealed class EtcdServerFixture : IKvEndpoint, IAsyncLifetime
{
    public const string Binary = "/usr/bin/etcd";

    private readonly TempDirectory _directory = TempDirectory.Create("conclave-bench-tests-etcd-");
    private readonly StringBuilder _log = new();
    private Process? _process;

    public string Endpoint { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install etcd 3.4 (Debian package 'etcd-server').");
        }

        var ports = FreePorts.Take(2);
        Endpoint = $"http://127.0.0.1:{ports[0]}";
        var peer = $"http://127.0.0.1:{ports[1]}";
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "--name", "lean", "--data-dir", _directory.Combine("data"),
            "--listen-client-urls", Endpoint, "--advertise-client-urls", Endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", $"lean={peer}",
            "--logger", "zap", "--log-level", "warn",
        })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        Assert.True(LeanCallInvoker.TryCreate(Endpoint, out var invoker));
        using (invoker)
        {
            var maintenance = new Maintenance.MaintenanceClient(invoker);
            await Eventually.WaitAsync(
                async ct =>
                {
                    if (_process.HasExited)
                    {
                        throw new InvalidOperationException($"etcd exited with code {_process.ExitCode}:\n{Log}");
                    }

                    return (await maintenance.StatusAsync(new StatusRequest(), cancellationToken: ct)).Leader != 0;
                },
                Eventually.DefaultTimeout,
                $"etcd on {Endpoint} has a leader");
        }
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
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
            }

            process.Dispose();
        }

        _directory.Dispose();
        return Task.CompletedTask;
    }

    private string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        lock (_log)
        {
            if (line is not null && _log.Length < 64 * 1024)
            {
                _log.AppendLine(line);
            }
        }
    }
}

using System.Diagnostics;
using System.Text;

namespace Conclave.Testing;

/// <summary>
/// A background etcdctl (a <c>watch</c>): its stdout is collected line by line so a test can wait for the
/// lines it expects. Disposing kills it.
/// </summary>
public sealed class EtcdctlProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly StringBuilder stderr = new();

    private EtcdctlProcess(Process process) => this.process = process;

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>Stdout lines so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (lines)
            {
                return [.. lines];
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }
    }

    internal static EtcdctlProcess Start(Process process)
    {
        var started = new EtcdctlProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (started.lines)
                {
                    started.lines.Add(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (started.stderr)
                {
                    started.stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    /// <summary>Waits until <paramref name="expected"/> appears in stdout as consecutive lines.</summary>
    public async Task WaitForLinesAsync(IReadOnlyList<string> expected, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await Eventually.WaitAsync(() => IndexOf(Lines, expected) >= 0, timeout, $"etcdctl (pid {Pid}) to print [{string.Join(" | ", expected)}]", cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{Describe()}", e);
        }
    }

    /// <summary>Waits until a stdout line satisfies <paramref name="match"/> and returns the first such line.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        try
        {
            await Eventually.WaitAsync(() => Lines.Any(match), timeout, $"etcdctl (pid {Pid}) to print {description}", cancellationToken);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{Describe()}", e);
        }

        return Lines.First(match);
    }

    /// <summary>Waits for the process to exit by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"etcdctl (pid {Pid}) did not exit within {timeout.TotalSeconds:F0} s\n{Describe()}");
        }

        return process.ExitCode;
    }

    /// <summary>Index of the first occurrence of <paramref name="expected"/> as consecutive lines, or -1.</summary>
    public static int IndexOf(IReadOnlyList<string> lines, IReadOnlyList<string> expected)
    {
        for (var start = 0; start + expected.Count <= lines.Count; start++)
        {
            var match = true;
            for (var i = 0; i < expected.Count && match; i++)
            {
                match = lines[start + i] == expected[i];
            }

            if (match)
            {
                return start;
            }
        }

        return -1;
    }

    public string Describe() => $"--- stdout ---\n{string.Join('\n', Lines)}\n--- stderr ---\n{Stderr}";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (InvalidOperationException)
        {
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            process.Dispose();
        }
    }
}

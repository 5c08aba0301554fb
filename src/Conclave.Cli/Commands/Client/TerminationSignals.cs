using System.Runtime.InteropServices;

namespace Conclave.Cli.Commands.Client;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a cancellation, so a command that holds something on the cluster (a lock,
/// a leadership, a session lease) releases it on the way out instead of being killed mid-air and leaving the
/// cluster to wait for a lease to expire. Needed because System.CommandLine 2.0 no longer handles termination
/// signals unless the host sets <c>ProcessTerminationTimeout</c>.
/// </summary>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly List<PosixSignalRegistration> _registrations = [];

    private TerminationSignals(CancellationToken outer)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(outer);
        if (OperatingSystem.IsWindows() || OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
            }
        }
    }

    /// <summary>Cancelled by <paramref name="outer"/>, Ctrl-C or SIGTERM.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>Starts listening; dispose to restore the default handling.</summary>
    public static TerminationSignals Listen(CancellationToken outer) => new(outer);

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _cancel.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Keep the process alive: the command ends itself once it has let go of what it holds.
        context.Cancel = true;
        try
        {
            _ = _cancel.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

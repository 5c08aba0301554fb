using System.Runtime.InteropServices;

namespace Conclave.Testing;

/// <summary>Signals for child processes: .NET's <see cref="System.Diagnostics.Process.Kill()"/> only sends SIGKILL.</summary>
internal static class PosixSignals
{
    public const int SigTerm = 15;

    public const int SigStop = 19;

    public const int SigCont = 18;

    public static void Send(int pid, int signal)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            throw new PlatformNotSupportedException("POSIX signals are needed to stop a node gracefully");
        }

        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}

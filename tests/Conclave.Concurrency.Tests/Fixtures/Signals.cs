using System.Runtime.InteropServices;

namespace Conclave.Concurrency.Tests.Fixtures;

/// <summary>POSIX signals for child processes (.NET's Process.Kill only sends SIGKILL).</summary>
internal static class Signals
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}

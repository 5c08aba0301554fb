using System.Runtime.InteropServices;

namespace Conclave.Cluster;

/// <summary>
/// Runs long background work (writing a snapshot image) at a lower CPU priority than the threads that answer clients.
/// </summary>
/// <remarks>
/// On two cores, a thread writing a gigabyte image for seconds takes a core from the apply loop, the log and the
/// connections, and every put waits longer while it runs. At a lower priority the scheduler gives it what they leave:
/// on an idle member it runs as fast as before, on a busy one it takes longer and the puts do not pay for it. Linux only
/// (<c>setpriority(2)</c> on a thread id sets that thread's nice value); elsewhere nothing changes.
/// </remarks>
internal static partial class BackgroundPriority
{
    /// <summary>The nice value background threads run at (0 is the default; 19 the lowest).</summary>
    public const int Nice = 10;

    /// <summary>
    /// Lowers the calling thread's priority for the rest of its life: call it only on a thread of its own (a
    /// <see cref="TaskCreationOptions.LongRunning"/> task), never on a pool thread that later runs other work.
    /// </summary>
    /// <returns>Whether the priority was lowered.</returns>
    public static bool LowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        // Never raise it: a member started with a higher nice value keeps it (and only a privileged one could lower it).
        return CurrentNice() >= Nice || NativeMethods.setpriority(0 /* PRIO_PROCESS: with a thread id, that thread */, NativeMethods.gettid(), Nice) == 0;
    }

    /// <summary>The calling thread's nice value (Linux), for tests.</summary>
    internal static int CurrentNice() => NativeMethods.getpriority(0, NativeMethods.gettid());

    private static partial class NativeMethods
    {
        [LibraryImport("libc")]
        internal static partial int gettid();

        [LibraryImport("libc")]
        internal static partial int setpriority(int which, int who, int prio);

        [LibraryImport("libc")]
        internal static partial int getpriority(int which, int who);
    }
}

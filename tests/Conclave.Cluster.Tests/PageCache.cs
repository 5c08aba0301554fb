using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Conclave.Cluster.Tests;

/// <summary>How much of a file the page cache holds dirty, from Linux's <c>cachestat(2)</c> (kernel 6.5 and later).</summary>
internal static partial class PageCache
{
    private const long CachestatSyscall = 451; // x86-64

    /// <summary>Dirty and under-write-back bytes of the whole file, or null where the kernel has no cachestat.</summary>
    public static long? DirtyBytes(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return null;
        }

        var range = new Range(0, 0); // length 0: to the end of the file
        if (Syscall(CachestatSyscall, file.DangerousGetHandle().ToInt32(), ref range, out var stat, 0) != 0)
        {
            return null; // ENOSYS on kernels before 6.5
        }

        return (long)(stat.Dirty + stat.Writeback) * Environment.SystemPageSize;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Range(ulong offset, ulong length)
    {
        public ulong Offset = offset;
        public ulong Length = length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Stat
    {
        public ulong Cache;
        public ulong Dirty;
        public ulong Writeback;
        public ulong Evicted;
        public ulong RecentlyEvicted;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int fd, ref Range range, out Stat stat, uint flags);
}

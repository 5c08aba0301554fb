using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Conclave.Cluster;

/// <summary>The file-system calls the log and the snapshots need to make what they write durable, in one place.</summary>
internal static partial class DurableFiles
{
    /// <summary>
    /// <c>fdatasync(2)</c>: the file's data, and the metadata needed to read it back, are on disk when this returns.
    /// Elsewhere than Linux, a full flush.
    /// </summary>
    /// <exception cref="IOException">The flush failed (errno in the message): what was written is in an unknown state.</exception>
    public static void DataSync(SafeFileHandle file)
    {
        if (OperatingSystem.IsLinux())
        {
            if (NativeMethods.fdatasync(file.DangerousGetHandle().ToInt32()) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
            }
        }
        else
        {
            RandomAccess.FlushToDisk(file);
        }
    }

    /// <summary>
    /// Pushes a large file to the disk as it is written, in steps, so that little of it waits in the page cache for its
    /// final sync (which would stand ahead of every other file's sync on the same disk): starts the write-back of
    /// [<paramref name="from"/>, <paramref name="to"/>) and waits until the step before it, [<paramref name="waitFrom"/>,
    /// <paramref name="from"/>), is on the disk (<c>sync_file_range(2)</c>). At most two steps are under way, and there is
    /// no journal commit per step as an <c>fdatasync</c> of a growing file makes. Not durability: the file still needs
    /// <see cref="DataSync"/> once written. Elsewhere than Linux, or where the file system refuses, a data sync instead.
    /// </summary>
    public static void WriteBackStep(SafeFileHandle file, long waitFrom, long from, long to)
    {
        if (OperatingSystem.IsLinux())
        {
            var fd = file.DangerousGetHandle().ToInt32();
            if (NativeMethods.sync_file_range(fd, from, to - from, SyncFileRangeWrite) == 0
                && (from == waitFrom || NativeMethods.sync_file_range(fd, waitFrom, from - waitFrom, SyncFileRangeWaitBefore | SyncFileRangeWrite | SyncFileRangeWaitAfter) == 0))
            {
                return;
            }
        }

        DataSync(file);
    }

    private const uint SyncFileRangeWaitBefore = 1;
    private const uint SyncFileRangeWrite = 2;
    private const uint SyncFileRangeWaitAfter = 4;

    /// <summary>
    /// Makes the entries of <paramref name="directory"/> durable (a new or renamed file exists after a crash only
    /// once they are); .NET has no API for that, so this uses <c>fsync(2)</c> on the directory.
    /// </summary>
    public static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = NativeMethods.open(directory, 0 /* O_RDONLY */);
        if (fd >= 0)
        {
            _ = NativeMethods.fsync(fd);
            _ = NativeMethods.close(fd);
        }
    }

    /// <summary>Copies a directory tree, private as the original (a damaged log is set aside this way before it is repaired).</summary>
    public static void CopyDirectory(string source, string destination)
    {
        PrivateFiles.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            PrivateFiles.CreateDirectory(Path.GetDirectoryName(target)!);
            PrivateFiles.Copy(file, target);
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", SetLastError = true)]
        internal static partial int fdatasync(int fd);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string path, int flags);

        [LibraryImport("libc")]
        internal static partial int fsync(int fd);

        [LibraryImport("libc")]
        internal static partial int close(int fd);
    }
}

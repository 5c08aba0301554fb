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

        [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string path, int flags);

        [LibraryImport("libc")]
        internal static partial int fsync(int fd);

        [LibraryImport("libc")]
        internal static partial int close(int fd);
    }
}

using System.Text;

namespace Conclave.Cluster;

/// <summary>
/// Creates the data directory's files and directories readable by the member's user only (0600 files, 0700
/// directories, as etcd keeps its own): the log and the snapshots hold every value ever written, secrets included.
/// Every file and directory the member creates goes through here. On Windows, where there are no Unix modes, the
/// calls create as usual (the directory's ACL, inherited, decides).
/// </summary>
internal static class PrivateFiles
{
    /// <summary><c>rwx------</c> (0700).</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary><c>rw-------</c> (0600).</summary>
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Every permission of the group and of others.</summary>
    public const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Creates <paramref name="path"/> and any missing parent as 0700 (an existing directory is left as it is).</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    /// <summary>
    /// Opens a file as <see cref="FileStream"/>'s constructor does; a file it creates is 0600, and one that already
    /// existed (a temporary file left by a crash, opened with <see cref="System.IO.FileMode.Create"/>) is made 0600 too.
    /// </summary>
    public static FileStream Open(string path, System.IO.FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options = FileOptions.None)
    {
        var streamOptions = new FileStreamOptions { Mode = mode, Access = access, Share = share, BufferSize = bufferSize, Options = options };
        if (OperatingSystem.IsWindows())
        {
            return new FileStream(path, streamOptions);
        }

        var creates = mode is System.IO.FileMode.Create or System.IO.FileMode.CreateNew or System.IO.FileMode.OpenOrCreate;
        if (creates)
        {
            streamOptions.UnixCreateMode = FileMode;
        }

        var stream = new FileStream(path, streamOptions);
        if (creates && mode != System.IO.FileMode.CreateNew)
        {
            try
            {
                File.SetUnixFileMode(stream.SafeFileHandle, FileMode);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        return stream;
    }

    /// <summary><see cref="File.WriteAllText(string, string?)"/> (UTF-8, no BOM) into a private file.</summary>
    public static void WriteAllText(string path, string contents)
    {
        using var stream = Open(path, System.IO.FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.Write(Utf8.GetBytes(contents));
    }

    /// <summary><see cref="File.WriteAllTextAsync(string, string?, CancellationToken)"/> (UTF-8, no BOM) into a private file.</summary>
    public static async Task WriteAllTextAsync(string path, string contents, CancellationToken cancellationToken)
    {
        var stream = Open(path, System.IO.FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(Utf8.GetBytes(contents), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Copies a file to a new private file (never over an existing one).</summary>
    public static void Copy(string source, string destination)
    {
        using var from = new FileStream(source, System.IO.FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        using var to = Open(destination, System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        from.CopyTo(to, 1024 * 1024);
    }

    /// <summary>
    /// Takes every permission of the group and of others away from <paramref name="path"/> and, for a directory,
    /// from everything under it; for files that code we do not control (DotNext) creates with the process's default
    /// mode, and for files an older version left readable. Symbolic links are not followed.
    /// </summary>
    /// <returns>The entries whose mode changed.</returns>
    public static List<string> Restrict(string path)
    {
        var changed = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            return changed;
        }

        FileSystemInfo root = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (!root.Exists)
        {
            return changed;
        }

        Restrict(root, changed);
        if (root is DirectoryInfo directory && root.LinkTarget is null)
        {
            foreach (var entry in directory.EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
            {
                Restrict(entry, changed);
            }
        }

        return changed;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void Restrict(FileSystemInfo entry, List<string> changed)
    {
        if (entry.LinkTarget is not null)
        {
            return;
        }

        var mode = entry.UnixFileMode;
        if ((mode & GroupAndOthers) != 0)
        {
            entry.UnixFileMode = mode & ~GroupAndOthers;
            changed.Add(entry.FullName);
        }
    }
}

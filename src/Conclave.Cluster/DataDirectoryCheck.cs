using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Prepares the data directory at start: creates it private (0700) when it does not exist; when it does, warns if
/// other users may enter it (as etcd's <c>fileutil.TouchDirAll</c> does) and makes private again what the member
/// itself keeps in it (files an older version created readable by anyone).
/// </summary>
/// <remarks>
/// The directory is warned about, not changed: the operator may have made it (a mount point, a volume whose group
/// a backup agent uses), and its mode is theirs to choose. The member's own entries are changed: nobody else has a
/// reason to read the log (which holds every value, secrets included), and an upgrade should close the hole without
/// the operator's help. Entries the member does not create are left alone.
/// </remarks>
internal static class DataDirectoryCheck
{
    /// <summary>Whether <paramref name="name"/>, directly in the data directory, is one of the member's own entries.</summary>
    internal static bool IsMembersOwn(string name) =>
        name is "cluster-id" or "members" or "learner" or "log" or "snap" or DataDirectoryFormat.FileName
        || name.StartsWith("log.", StringComparison.Ordinal) // log.corrupt-*
        || name.StartsWith("cluster-id.", StringComparison.Ordinal)
        || name.EndsWith(".tmp", StringComparison.Ordinal); // DotNext rewrites `members` through one

    public static void Prepare(string dataDirectory, ILogger logger)
    {
        if (!Directory.Exists(dataDirectory))
        {
            PrivateFiles.CreateDirectory(dataDirectory);
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(dataDirectory);
        if ((mode & PrivateFiles.GroupAndOthers) != 0)
        {
            Log.DataDirectoryNotPrivate(logger, dataDirectory, Format(mode), Octal(mode));
        }

        var changed = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(dataDirectory))
        {
            if (IsMembersOwn(Path.GetFileName(entry)))
            {
                changed.AddRange(PrivateFiles.Restrict(entry));
            }
        }

        if (changed.Count > 0)
        {
            Log.DataDirectoryEntriesMadePrivate(logger, changed.Count, dataDirectory, Path.GetRelativePath(dataDirectory, changed[0]));
        }
    }

    /// <summary>As <c>ls -l</c> shows permissions: <c>rwxr-xr-x</c>.</summary>
    internal static string Format(UnixFileMode mode)
    {
        Span<char> text = stackalloc char[9];
        ReadOnlySpan<char> letters = "rwxrwxrwx";
        for (var i = 0; i < 9; i++)
        {
            text[i] = ((int)mode & (1 << (8 - i))) != 0 ? letters[i] : '-';
        }

        return new string(text);
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');
}

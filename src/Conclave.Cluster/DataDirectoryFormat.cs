using System.Globalization;

namespace Conclave.Cluster;

/// <summary>
/// The data directory's own format version, kept in <c>&lt;data-dir&gt;/format</c> (one line: the number). It versions the
/// layout (which files and directories a member keeps there and what they mean); the files that have a binary format
/// carry their own version too (log segments, snapshot files, the state machine's image). docs/upgrades.md lists them.
/// </summary>
/// <remarks>
/// A directory without the file was written before the file existed and is format 1: it is written on the first start
/// of a build that knows it. A directory of a newer format than this build's is refused before anything in it is
/// read or changed (<see cref="NewerFormatException"/>): the operator upgrades the binary or restores from a backup.
/// </remarks>
public static class DataDirectoryFormat
{
    /// <summary>The format this build writes (and the newest it opens).</summary>
    public const int Current = 1;

    /// <summary>The oldest format this build opens.</summary>
    public const int Oldest = 1;

    /// <summary>The name of the file, directly in the data directory.</summary>
    public const string FileName = "format";

    /// <summary>
    /// The format <paramref name="dataDirectory"/> declares: null when it does not exist or has no format file (then it
    /// is today's format 1, or new). Throws without changing anything when the directory is of a format this build
    /// cannot open.
    /// </summary>
    /// <exception cref="NewerFormatException">The directory is of a newer format than <see cref="Current"/>.</exception>
    /// <exception cref="InvalidDataException">The format file does not hold a format number, or one older than <see cref="Oldest"/>.</exception>
    public static int? Check(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        var text = File.ReadAllText(path).Trim();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
        {
            throw new InvalidDataException(
                $"data directory {dataDirectory}: its {FileName} file holds \"{Shorten(text)}\", not a format number; this member touches nothing. " +
                $"This build writes data directory format {Current}.");
        }

        if (version > Current)
        {
            throw new NewerFormatException(
                $"data directory {dataDirectory} is format {version}, newer than this build's {Current}: it was written by a newer Conclave. " +
                "This member opens nothing and changes nothing in it. Upgrade the binary to a build that reads it, or restore the member from a backup " +
                "(conclave snapshot restore); see docs/upgrades.md.",
                "data directory", version, Current);
        }

        return version < Oldest
            ? throw new InvalidDataException(
                $"data directory {dataDirectory} is format {version}, older than the oldest this build opens ({Oldest}). " +
                "Start it with an intermediate build first, or restore the member from a backup; see docs/upgrades.md.")
            : version;
    }

    /// <summary>
    /// Records this build's format in <paramref name="dataDirectory"/> (which must exist) unless a format is recorded
    /// already: written to a temporary name, flushed, renamed, and the directory flushed.
    /// </summary>
    public static void Record(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path))
        {
            return;
        }

        var temporary = path + ".tmp";
        using (var file = PrivateFiles.Open(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(Current.ToString(CultureInfo.InvariantCulture) + "\n"));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        DurableFiles.FlushDirectory(dataDirectory);
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";
}

using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>The data directory's permission check at start (EventIds 2095-2099 of the consensus layer's range).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2095, Level = LogLevel.Warning,
        Message = "Data directory {DataDirectory} exists, but its permission is {Permission} ({Octal}): other users may enter it. " +
                  "The recommended permission is rwx------ (0700) to prevent possible unprivileged access to the data (chmod 700)")]
    public static partial void DataDirectoryNotPrivate(ILogger logger, string dataDirectory, string permission, string octal);

    [LoggerMessage(EventId = 2096, Level = LogLevel.Warning,
        Message = "{Count} of this member's files and directories in {DataDirectory} were readable by other users and were made private " +
                  "(0600 files, 0700 directories), {First} among them")]
    public static partial void DataDirectoryEntriesMadePrivate(ILogger logger, int count, string dataDirectory, string first);
}

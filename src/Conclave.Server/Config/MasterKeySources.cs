using Conclave.ConfigCenter.Secrets;

namespace Conclave.Server.Config;

/// <summary>
/// Where a member's master keys come from (ADR 0015): <c>--config-master-key-file PATH[,PATH...]</c> (each file holds one
/// key, 32 random bytes in base64; the flag may be repeated) and the <c>CONCLAVE_MASTER_KEY</c> environment variable
/// (base64 keys, comma separated). The first key is current; the others stay readable so a rotation can move data keys
/// off them. The files' keys come before the environment's.
/// </summary>
public static class MasterKeySources
{
    public const string EnvironmentVariable = "CONCLAVE_MASTER_KEY";

    public const string FileFlag = "--config-master-key-file";

    /// <summary><paramref name="options"/> with the master keys of <see cref="Load"/> (unchanged when none is named).</summary>
    public static ServerOptions WithMasterKeys(ServerOptions options, IEnumerable<string> files, string? environmentValue) =>
        Load(files, environmentValue) is { } keys ? options with { ConfigMasterKeys = keys } : options;

    /// <summary>The keys named, or null when none is. Throws <see cref="ArgumentException"/> naming the file or variable that is wrong.</summary>
    public static LocalMasterKeys? Load(IEnumerable<string> files, string? environmentValue)
    {
        var keys = new List<byte[]>();
        foreach (var path in files.SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            string text;
            try
            {
                RequirePrivate(path);
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{FileFlag} {path}: {e.Message}");
            }

            keys.Add(LocalMasterKeys.ParseKey(text, $"{FileFlag} {path}"));
        }

        if (!string.IsNullOrWhiteSpace(environmentValue))
        {
            var index = 0;
            foreach (var part in environmentValue.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                keys.Add(LocalMasterKeys.ParseKey(part, $"{EnvironmentVariable} (key {++index})"));
            }
        }

        return keys.Count == 0 ? null : new LocalMasterKeys(keys);
    }

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // As ssh treats a private key: a master key file that another account can read (or replace) is refused, naming the fix.
    private static void RequirePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOthers) != 0)
        {
            throw new ArgumentException(
                $"{FileFlag} {path}: the file is open to other accounts (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); " +
                $"a master key opens every secret, so make it private to the member's account: chmod 600 {path}");
        }
    }
}

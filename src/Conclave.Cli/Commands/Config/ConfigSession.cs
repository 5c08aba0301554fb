using System.Text.Json;
using System.Text.Json.Serialization;

namespace Conclave.Cli.Commands.Config;

/// <summary>
/// The token <c>conclave login</c> keeps for the configuration commands: one file in the user's config directory
/// (<c>$XDG_CONFIG_HOME/conclave/session.json</c>, else <c>~/.config/conclave/session.json</c>), readable by its owner
/// only (0600), naming the API it was issued by. A command sends it only to that same API, so a token for one cluster
/// never travels to another.
/// </summary>
internal sealed record ConfigSession(string Api, string User, string Token)
{
    public static string FilePath =>
        Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
            "conclave",
            "session.json");

    /// <summary>The stored session, or null when there is none (or it cannot be read).</summary>
    public static ConfigSession? Load()
    {
        try
        {
            return File.Exists(FilePath) ? JsonSerializer.Deserialize(File.ReadAllText(FilePath), ConfigSessionJson.Default.ConfigSession) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes the session, replacing any other, with owner-only permissions from the first byte.</summary>
    public void Save()
    {
        var directory = Path.GetDirectoryName(FilePath)!;
        Directory.CreateDirectory(directory);
        var temporary = FilePath + ".tmp";
        File.Delete(temporary);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temporary, create))
        {
            JsonSerializer.Serialize(file, this, ConfigSessionJson.Default.ConfigSession);
        }

        File.Move(temporary, FilePath, overwrite: true);
    }

    /// <summary>Deletes the stored session; false when there was none.</summary>
    public static bool Delete()
    {
        if (!File.Exists(FilePath))
        {
            return false;
        }

        File.Delete(FilePath);
        return true;
    }

    /// <summary>Whether two API URLs name the same listener (scheme, host, port; a trailing slash aside).</summary>
    public static bool SameApi(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y)
        && string.Equals(x.GetLeftPart(UriPartial.Authority), y.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ConfigSession))]
internal sealed partial class ConfigSessionJson : JsonSerializerContext;

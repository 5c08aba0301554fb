using System.Text;

namespace Conclave.ConfigCenter;

/// <summary>Checks names, keys and ids against <see cref="ConfigLimits"/>, naming the field and the rule.</summary>
public static class ConfigNames
{
    public static void CheckName(string field, string? name, ConfigLimits limits)
    {
        if (string.IsNullOrEmpty(name) || name.Length > limits.MaxNameLength || !char.IsAsciiLetterOrDigit(name[0])
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw Invalid($"{field} '{name}' is invalid: use 1 to {limits.MaxNameLength} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
        }
    }

    public static void CheckItemKey(string? key, ConfigLimits limits)
    {
        if (string.IsNullOrEmpty(key) || key.Length > limits.MaxKeyLength || key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '=' or ':' or '#' or '!'))
        {
            throw Invalid($"item key '{key}' is invalid: use 1 to {limits.MaxKeyLength} characters without whitespace, '=', ':', '#' or '!'");
        }
    }

    public static void CheckValue(string key, string? value, ConfigLimits limits)
    {
        var bytes = Encoding.UTF8.GetByteCount(value ?? "");
        if (bytes > limits.MaxValueBytes)
        {
            throw new ConfigCenterException(ConfigErrorKind.TooLarge, $"the value of '{key}' is {bytes} bytes; the limit is {limits.MaxValueBytes} bytes");
        }
    }

    public static void CheckContent(string content, ConfigLimits limits)
    {
        var bytes = Encoding.UTF8.GetByteCount(content);
        if (bytes > limits.MaxContentBytes)
        {
            throw new ConfigCenterException(ConfigErrorKind.TooLarge, $"the document is {bytes} bytes; the limit is {limits.MaxContentBytes} bytes");
        }
    }

    public static void CheckInstanceId(string? id, ConfigLimits limits)
    {
        if (string.IsNullOrEmpty(id) || id.Length > limits.MaxInstanceIdLength || id.Any(c => c is <= ' ' or > '~' or '/'))
        {
            throw Invalid($"instance id '{id}' is invalid: use 1 to {limits.MaxInstanceIdLength} printable ASCII characters without spaces or '/'");
        }
    }

    /// <summary>Checks a <c>key=value</c> label.</summary>
    public static void CheckLabel(string? label)
    {
        var eq = label?.IndexOf('=', StringComparison.Ordinal) ?? -1;
        if (label is null || eq <= 0 || label.Length > 256 || label.Any(c => c is < ' ' or > '~'))
        {
            throw Invalid($"label '{label}' is invalid: write key=value in printable ASCII, at most 256 characters");
        }
    }

    private static ConfigCenterException Invalid(string message) => new(ConfigErrorKind.InvalidArgument, message);
}

using System.Text.Json;

namespace Conclave.Flags;

/// <summary>An evaluation with its value: OpenFeature's evaluation details. On error <see cref="Value"/> is the caller's default.</summary>
/// <param name="Flag">The flag asked for.</param>
/// <param name="Value">The variant's value, or the caller's default on error.</param>
/// <param name="Variant">The variant chosen; null on error.</param>
/// <param name="Reason">Why.</param>
/// <param name="ErrorCode">What failed, or <see cref="FlagErrorCode.None"/>.</param>
/// <param name="ErrorMessage">A sentence for logs; null unless an error.</param>
public sealed record FlagResult<T>(string Flag, T Value, string? Variant, FlagReason Reason, FlagErrorCode ErrorCode, string? ErrorMessage);

/// <summary>
/// Typed reads over a <see cref="FlagSet"/> with OpenFeature's semantics: a missing flag or a value of another type
/// gives the caller's default with <see cref="FlagReason.Error"/> and the error code.
/// </summary>
public static class FlagReader
{
    public static FlagResult<bool> GetBoolean(FlagSet set, string flag, bool defaultValue, FlagContext context) =>
        Read(set, flag, defaultValue, context, FlagType.Boolean, static v => v.GetBoolean());

    public static FlagResult<string> GetString(FlagSet set, string flag, string defaultValue, FlagContext context) =>
        Read(set, flag, defaultValue, context, FlagType.String, static v => v.GetString()!);

    public static FlagResult<double> GetDouble(FlagSet set, string flag, double defaultValue, FlagContext context) =>
        Read(set, flag, defaultValue, context, FlagType.Number, static v => v.GetDouble());

    /// <summary>A number flag read as a whole number: a variant with a fraction (or out of range) is a type mismatch.</summary>
    public static FlagResult<long> GetInteger(FlagSet set, string flag, long defaultValue, FlagContext context)
    {
        var result = Read(set, flag, 0.0, context, FlagType.Number, static v => v.GetDouble());
        if (result.ErrorCode != FlagErrorCode.None)
        {
            return new FlagResult<long>(flag, defaultValue, null, result.Reason, result.ErrorCode, result.ErrorMessage);
        }

        var value = set.Flags[flag].Variants[result.Variant!];
        return value.TryGetInt64(out var whole)
            ? new FlagResult<long>(flag, whole, result.Variant, result.Reason, FlagErrorCode.None, null)
            : new FlagResult<long>(flag, defaultValue, null, FlagReason.Error, FlagErrorCode.TypeMismatch, $"flag '{flag}' variant '{result.Variant}' is not a whole number");
    }

    /// <summary>Any flag's variant as JSON; a <c>json</c> flag is the usual one.</summary>
    public static FlagResult<JsonElement> GetJson(FlagSet set, string flag, JsonElement defaultValue, FlagContext context) =>
        Read(set, flag, defaultValue, context, FlagType.Json, static v => v);

    private static FlagResult<T> Read<T>(FlagSet set, string flag, T defaultValue, FlagContext context, FlagType type, Func<JsonElement, T> read)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Flags.TryGetValue(flag, out var definition) && definition.Type != type)
        {
            return new FlagResult<T>(flag, defaultValue, null, FlagReason.Error, FlagErrorCode.TypeMismatch,
                $"flag '{flag}' is a {definition.Type.ToString().ToLowerInvariant()} flag, not {type.ToString().ToLowerInvariant()}");
        }

        var decision = set.Evaluate(flag, context, out var value);
        return decision.Variant is null
            ? new FlagResult<T>(flag, defaultValue, null, decision.Reason, decision.ErrorCode, decision.ErrorMessage)
            : new FlagResult<T>(flag, read(value), decision.Variant, decision.Reason, FlagErrorCode.None, null);
    }
}

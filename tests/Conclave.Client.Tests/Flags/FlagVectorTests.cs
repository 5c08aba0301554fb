using System.Text.Json;
using System.Text.Json.Nodes;
using Conclave.Flags;

namespace Conclave.Client.Tests.Flags;

/// <summary>The .NET evaluator against the shared vectors (tests/flags/vectors.json).</summary>
public sealed class FlagVectorTests
{
    [Fact]
    public void Buckets_match_the_vectors()
    {
        var count = 0;
        foreach (var vector in FlagVectors.Buckets)
        {
            var seed = vector.GetProperty("seed").GetString()!;
            var key = vector.GetProperty("key").GetString()!;
            Assert.True(vector.GetProperty("bucket").GetInt32() == FlagBucket.Of(seed, key), $"bucket of '{seed}'/'{key}'");
            count++;
        }

        Assert.True(count >= 40, $"only {count} bucket vectors");
    }

    [Fact]
    public void Every_evaluation_gives_the_expected_value_variant_and_reason()
    {
        var count = 0;
        foreach (var vector in FlagVectors.Cases)
        {
            var name = vector.GetProperty("name").GetString();
            var set = FlagSet.Parse(vector.GetProperty("document").GetRawText());
            foreach (var evaluation in vector.GetProperty("evaluations").EnumerateArray())
            {
                var flag = evaluation.GetProperty("flag").GetString()!;
                var context = FlagVectors.Context(evaluation.GetProperty("context"));
                var expect = evaluation.GetProperty("expect");
                var kind = evaluation.GetProperty("type").GetString()!;
                var @default = evaluation.GetProperty("default");
                var (value, variant, reason, error) = Evaluate(set, flag, kind, @default, context);
                var label = $"{name}: {flag} as {kind} for {evaluation.GetProperty("context").GetRawText()}";
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expect.GetProperty("value").GetRawText()), value), $"{label}: value {value?.ToJsonString() ?? "null"}, expected {expect.GetProperty("value").GetRawText()}");
                Assert.True(expect.GetProperty("variant").ValueKind == JsonValueKind.Null ? variant is null : variant == expect.GetProperty("variant").GetString(), $"{label}: variant {variant}");
                Assert.True(expect.GetProperty("reason").GetString() == reason, $"{label}: reason {reason}");
                Assert.True((expect.GetProperty("errorCode").ValueKind == JsonValueKind.Null ? null : expect.GetProperty("errorCode").GetString()) == error, $"{label}: error {error}");
                count++;
            }
        }

        Assert.True(count >= 100, $"only {count} evaluations");
    }

    [Fact]
    public void Every_invalid_document_is_refused_at_the_expected_path()
    {
        foreach (var vector in FlagVectors.Invalid)
        {
            var name = vector.GetProperty("name").GetString();
            var path = vector.GetProperty("path").GetString()!;
            var e = Assert.Throws<FlagDocumentException>(() => FlagSet.Parse(vector.GetProperty("content").GetString()!));
            Assert.True(e.Path.StartsWith(path, StringComparison.Ordinal), $"{name}: refused at '{e.Path}' ({e.Message}), expected under '{path}'");
        }
    }

    /// <summary>Through the typed reads (<see cref="FlagReader"/>), as an application and the OpenFeature adapter use them.</summary>
    private static (JsonNode? Value, string? Variant, string Reason, string? Error) Evaluate(FlagSet set, string flag, string kind, JsonElement @default, FlagContext context)
    {
        FlagResult<JsonNode?> Wrap<T>(FlagResult<T> r, Func<T, JsonNode?> f) => new(r.Flag, f(r.Value), r.Variant, r.Reason, r.ErrorCode, r.ErrorMessage);
        var result = kind switch
        {
            "boolean" => Wrap(FlagReader.GetBoolean(set, flag, @default.GetBoolean(), context), v => JsonValue.Create(v)),
            "string" => Wrap(FlagReader.GetString(set, flag, @default.GetString()!, context), v => JsonValue.Create(v)),
            "number" => Wrap(FlagReader.GetDouble(set, flag, @default.GetDouble(), context), v => JsonValue.Create(v)),
            "integer" => Wrap(FlagReader.GetInteger(set, flag, @default.GetInt64(), context), v => JsonValue.Create(v)),
            "json" => Wrap(FlagReader.GetJson(set, flag, @default, context), v => JsonNode.Parse(v.GetRawText())),
            _ => throw new InvalidOperationException(kind),
        };
        return (result.Value, result.Variant, Reason(result.Reason), Error(result.ErrorCode));
    }

    private static string Reason(FlagReason reason) => reason switch
    {
        FlagReason.Static => "STATIC",
        FlagReason.Default => "DEFAULT",
        FlagReason.TargetingMatch => "TARGETING_MATCH",
        FlagReason.Split => "SPLIT",
        FlagReason.Disabled => "DISABLED",
        _ => "ERROR",
    };

    private static string? Error(FlagErrorCode code) => code switch
    {
        FlagErrorCode.None => null,
        FlagErrorCode.FlagNotFound => "FLAG_NOT_FOUND",
        FlagErrorCode.TypeMismatch => "TYPE_MISMATCH",
        FlagErrorCode.ParseError => "PARSE_ERROR",
        _ => "GENERAL",
    };
}

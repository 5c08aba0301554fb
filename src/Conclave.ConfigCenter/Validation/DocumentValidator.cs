using System.Text.Json;
using System.Text.Json.Nodes;
using Conclave.ConfigCenter.Model;
using Json.Schema;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Conclave.ConfigCenter.Validation;

/// <summary>
/// Validation at publish: the document must parse for its format (errors carry 1-based line and column), and
/// when the namespace has a JSON Schema the document (properties read as a flat object of strings) must pass it.
/// </summary>
public static class DocumentValidator
{
    /// <summary>Parses <paramref name="content"/> for <paramref name="format"/>; returns it as JSON (null for text).</summary>
    public static JsonNode? Parse(NamespaceFormat format, string content, ConfigLimits limits) => format switch
    {
        NamespaceFormat.Properties => ToObject(PropertiesDocument.Parse(content, limits)),
        NamespaceFormat.Json => ParseJson(content, "json", ConfigErrorKind.InvalidDocument),
        NamespaceFormat.Yaml => ParseYaml(content),
        NamespaceFormat.Flags => ParseFlags(content),
        _ => null,
    };

    /// <summary>
    /// A flags document must be plain JSON that docs/feature-flags.md accepts (the same parser the .NET clients
    /// evaluate with); the error names the path, e.g. <c>flags["Checkout"].rules[2].rollout</c>.
    /// </summary>
    private static JsonNode? ParseFlags(string content)
    {
        try
        {
            Conclave.Flags.FlagSet.Parse(content);
        }
        catch (Conclave.Flags.FlagDocumentException e)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidDocument, "flags: " + e.Message);
        }

        return ParseJson(content, "flags", ConfigErrorKind.InvalidDocument);
    }

    /// <summary>Validates a document of <paramref name="format"/>, and against <paramref name="schema"/> when one is given.</summary>
    public static void Validate(NamespaceFormat format, string content, string? schema, ConfigLimits limits)
    {
        ConfigNames.CheckContent(content, limits);
        var node = Parse(format, content, limits);
        if (string.IsNullOrWhiteSpace(schema) || format == NamespaceFormat.Text)
        {
            return;
        }

        var compiled = CompileSchema(schema, limits);
        using var document = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        EvaluationResults result;
        try
        {
            result = compiled.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException e)
        {
            // The host limits regular expressions (the member sets a process-wide match timeout): a pattern that
            // backtracks on this document is refused instead of holding a core.
            throw new ConfigCenterException(ConfigErrorKind.InvalidDocument, $"schema: the pattern '{e.Pattern}' took longer than {e.MatchTimeout.TotalSeconds:0.###} s on this document");
        }
        catch (Exception e) when (e is JsonSchemaException or JsonException or ArgumentException or InvalidOperationException or UriFormatException)
        {
            // A reference the schema cannot resolve (it names no part of the schema): the schema is at fault, not the document.
            throw new ConfigCenterException(ConfigErrorKind.InvalidSchema, "schema cannot be evaluated: " + FirstSentence(e.Message));
        }

        if (!result.IsValid)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidDocument, "schema: " + Describe(result));
        }
    }

    /// <summary>Checks that <paramref name="schema"/> is a valid JSON Schema (draft 2020-12 meta-schema) and compiles it.</summary>
    public static JsonSchema CompileSchema(string schema, ConfigLimits limits)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(schema) > limits.MaxSchemaBytes)
        {
            throw new ConfigCenterException(ConfigErrorKind.TooLarge, $"the schema is over the limit of {limits.MaxSchemaBytes} bytes");
        }

        var node = ParseJson(schema, "schema", ConfigErrorKind.InvalidSchema);
        if (node is not JsonObject and not JsonValue { } || (node is JsonValue v && v.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)))
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidSchema, "schema: a JSON Schema must be an object or a boolean");
        }

        RefuseRemoteReferences(node, "");

        using (var document = JsonDocument.Parse(schema))
        {
            var meta = MetaSchemas.Draft202012.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!meta.IsValid)
            {
                throw new ConfigCenterException(ConfigErrorKind.InvalidSchema, "schema is not valid JSON Schema (2020-12): " + Describe(meta));
            }
        }

        try
        {
            return JsonSchema.FromText(schema);
        }
        catch (Exception e) when (e is JsonException or JsonSchemaException or ArgumentException or InvalidOperationException)
        {
            throw new ConfigCenterException(ConfigErrorKind.InvalidSchema, "schema is not valid JSON Schema: " + e.Message);
        }
    }

    /// <summary>Keywords whose value is a URI reference to another schema.</summary>
    private static readonly string[] ReferenceKeywords = ["$ref", "$dynamicRef", "$recursiveRef"];

    /// <summary>
    /// A schema may refer only to its own parts (<c>#/$defs/x</c>, <c>#anchor</c>): anything else would make the member
    /// fetch a URL or read a file, or fail at every publish. Walks the parsed schema, whose nesting JSON parsing bounds.
    /// </summary>
    private static void RefuseRemoteReferences(JsonNode? node, string at)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o)
                {
                    if (ReferenceKeywords.Contains(name) && value is JsonValue v && v.TryGetValue<string>(out var reference) && !reference.StartsWith('#'))
                    {
                        throw new ConfigCenterException(ConfigErrorKind.InvalidSchema,
                            $"schema: remote references are not allowed: {name} '{reference}' at {(at.Length == 0 ? "/" : at)}; a schema may refer only to its own parts ('#/$defs/...'), the member never fetches schemas");
                    }

                    RefuseRemoteReferences(value, $"{at}/{name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}");
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    RefuseRemoteReferences(a[i], $"{at}/{i}");
                }

                break;
        }
    }

    private static string Describe(EvaluationResults result)
    {
        var errors = new List<string>();
        void Collect(EvaluationResults r)
        {
            if (r.Errors is { Count: > 0 })
            {
                foreach (var (keyword, message) in r.Errors)
                {
                    var at = r.InstanceLocation.ToString();
                    errors.Add($"{(at.Length == 0 ? "/" : at)}: {message} ({keyword})");
                }
            }

            if (r.Details is { } details)
            {
                foreach (var d in details)
                {
                    Collect(d);
                }
            }
        }

        Collect(result);
        return errors.Count == 0 ? "rejected" : string.Join("; ", errors.Distinct().Take(5));
    }

    private static JsonObject ToObject(List<ConfigItem> items)
    {
        var o = new JsonObject();
        foreach (var item in items)
        {
            o[item.Key] = item.Value;
        }

        return o;
    }

    private static JsonNode? ParseJson(string content, string what, ConfigErrorKind kind)
    {
        try
        {
            return JsonNode.Parse(content, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = (int)(e.BytePositionInLine ?? 0) + 1;
            throw new ConfigCenterException(kind, $"{what}: line {line}, column {column}: {FirstSentence(e.Message)}") { Line = line, Column = column };
        }
    }

    /// <summary>Deepest nesting of a YAML document, aliases expanded.</summary>
    public const int MaxYamlDepth = YamlBounds.MaxDepth;

    private static JsonNode? ParseYaml(string content)
    {
        // Walk the parser's events first: its errors carry the position, which YamlStream.Load can lose; and the
        // document's nesting and alias expansion are bounded before anything is built from it.
        var parser = new Parser(new StringReader(content));
        var bounds = new YamlBounds(content.Length);
        Mark last = Mark.Empty;
        try
        {
            while (parser.MoveNext())
            {
                last = parser.Current?.End ?? last;
                if (parser.Current is { } e && bounds.Observe(e) is { } refused)
                {
                    throw YamlError((int)e.Start.Line, (int)e.Start.Column, refused);
                }
            }
        }
        catch (YamlException e)
        {
            var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            throw YamlError((int)e.Start.Line, (int)e.Start.Column, message);
        }
        catch (InvalidOperationException e)
        {
            throw YamlError((int)last.Line, (int)last.Column, e.Message);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(content));
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            throw YamlError(e is YamlException y ? (int)y.Start.Line : (int)last.Line, e is YamlException y2 ? (int)y2.Start.Column : (int)last.Column, e.Message);
        }

        return stream.Documents.Count == 0 ? null : ToJson(stream.Documents[0].RootNode);
    }

    private static ConfigCenterException YamlError(int line, int column, string message) =>
        new(ConfigErrorKind.InvalidDocument, $"yaml: line {line}, column {column}: {FirstSentence(message)}") { Line = line, Column = column };

    private static JsonNode? ToJson(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var o = new JsonObject();
                foreach (var (k, v) in map.Children)
                {
                    o[k is YamlScalarNode s ? s.Value ?? "" : k.ToString()] = ToJson(v);
                }

                return o;
            case YamlSequenceNode seq:
                var a = new JsonArray();
                foreach (var item in seq.Children)
                {
                    a.Add(ToJson(item));
                }

                return a;
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Style is ScalarStyle.Plain)
                {
                    if (text is "" or "~" or "null" or "Null" or "NULL")
                    {
                        return null;
                    }

                    if (text is "true" or "True" or "TRUE")
                    {
                        return JsonValue.Create(true);
                    }

                    if (text is "false" or "False" or "FALSE")
                    {
                        return JsonValue.Create(false);
                    }

                    if (long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var l))
                    {
                        return JsonValue.Create(l);
                    }

                    if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
                    {
                        return JsonValue.Create(d);
                    }
                }

                return JsonValue.Create(text);
            default:
                return null;
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }
}

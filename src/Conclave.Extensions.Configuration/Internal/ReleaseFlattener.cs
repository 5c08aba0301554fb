using System.Text.Json;
using Conclave.Client;
using Conclave.Flags;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Turns releases into configuration keys. Properties: <c>a.b.c</c> becomes <c>a:b:c</c>. json: flattened as
/// <c>AddJsonFile</c> does (objects by property name, arrays by index, an empty object or array is a key with
/// an empty string, a JSON null a key with a null value). yaml: the same rules over mappings, sequences and scalars. text: one
/// key, the namespace name, holding the document. flags: parsed with <see cref="FlagSet.Parse"/> (a document that does
/// not parse is refused like a json document that does not); the flags of all flags releases are merged (a later
/// namespace's flag replaces an earlier one of the same name) and written once, after every other key, in
/// Microsoft.FeatureManagement's schema (<see cref="FeatureManagementKeys"/>). Later releases override earlier ones key by key.
/// </summary>
internal static class ReleaseFlattener
{
    /// <summary>The root of the keys flags are written under: Microsoft.FeatureManagement's <c>feature_management:feature_flags</c>.</summary>
    public const string FeatureFlagsSection = "feature_management:feature_flags";

    /// <summary>The client filter every flag names; <c>AddConclaveFlags</c> registers the filters with this alias.</summary>
    public const string FilterName = "Conclave";

    /// <summary>The filter parameter that names the flag.</summary>
    public const string FlagParameter = "Flag";

    public static Dictionary<string, string?> Merge(IEnumerable<ConfigRelease> releasesInOrder) => Merge(releasesInOrder, out _);

    /// <summary>The keys of all releases, and the merged flags of their flags releases (<see cref="MergedFlags.Empty"/> when none).</summary>
    public static Dictionary<string, string?> Merge(IEnumerable<ConfigRelease> releasesInOrder, out MergedFlags flags)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        List<ParsedFlags>? parsed = null;
        foreach (var release in releasesInOrder)
        {
            if (IsFlags(release))
            {
                (parsed ??= []).Add(ParseFlags(release));
                continue;
            }

            foreach (var (key, value) in Flatten(release))
            {
                data[key] = value;
            }
        }

        flags = parsed is null ? MergedFlags.Empty : MergedFlags.Of(parsed);
        FeatureManagementKeys(flags.Set, data);
        return data;
    }

    /// <summary>The keys of one release. Throws <see cref="FormatException"/> for a document that does not parse.</summary>
    public static Dictionary<string, string?> Flatten(ConfigRelease release)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (IsFlags(release))
        {
            FeatureManagementKeys(ParseFlags(release).Set, data);
            return data;
        }

        return FlattenDocument(release, data);
    }

    /// <summary>
    /// Parses a flags release: the set, and each flag's definition as text (to tell which flags a new release changed).
    /// Throws <see cref="FormatException"/> naming the release and the first error.
    /// </summary>
    public static ParsedFlags ParseFlags(ConfigRelease release)
    {
        if (string.IsNullOrWhiteSpace(release.Content))
        {
            return new ParsedFlags(FlagSet.Empty, new Dictionary<string, string>(StringComparer.Ordinal), release.Namespace);
        }

        FlagSet set;
        try
        {
            set = FlagSet.Parse(release.Content);
        }
        catch (FlagDocumentException e)
        {
            throw new FormatException($"{release.Namespace}#{release.ReleaseId}: {e.Message}", e);
        }

        // The parser accepted the document, so it is a JSON object with an object "flags".
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var document = JsonDocument.Parse(release.Content))
        {
            if (document.RootElement.TryGetProperty("flags", out var flags))
            {
                foreach (var flag in flags.EnumerateObject())
                {
                    texts[flag.Name] = flag.Value.GetRawText();
                }
            }
        }

        return new ParsedFlags(set, texts, release.Namespace);
    }

    /// <summary>
    /// Writes <paramref name="flags"/> in Microsoft.FeatureManagement's schema, one entry per flag keyed by its name
    /// (the library reads <c>feature_flags</c>' children whatever their keys, and finds a flag by <c>id</c>): <c>id</c>,
    /// <c>enabled</c> (the kill switch), one client filter <c>Conclave</c> whose <c>Flag</c> parameter names the flag, the
    /// variants with their values as <c>configuration_value</c>, and <c>allocation</c>'s <c>default_when_enabled</c>
    /// (the default variant) and <c>default_when_disabled</c> (the off variant).
    /// </summary>
    public static void FeatureManagementKeys(FlagSet flags, Dictionary<string, string?> data)
    {
        foreach (var (name, flag) in flags.Flags)
        {
            var root = $"{FeatureFlagsSection}:{name}";
            data[$"{root}:id"] = name;
            data[$"{root}:enabled"] = flag.Enabled ? "true" : "false";
            data[$"{root}:conditions:client_filters:0:name"] = FilterName;
            data[$"{root}:conditions:client_filters:0:parameters:{FlagParameter}"] = name;
            var index = 0;
            foreach (var (variant, value) in flag.Variants.OrderBy(v => v.Key, StringComparer.Ordinal))
            {
                var prefix = $"{root}:variants:{index.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
                data[$"{prefix}:name"] = variant;
                VisitValue(value, $"{prefix}:configuration_value", data);
                index++;
            }

            data[$"{root}:allocation:default_when_enabled"] = flag.DefaultVariant;
            data[$"{root}:allocation:default_when_disabled"] = flag.OffVariant;
        }
    }

    private static bool IsFlags(ConfigRelease release) => string.Equals(release.Format, "flags", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A variant's value as configuration: a scalar is one key (a boolean <c>true</c>/<c>false</c>), an object or array
    /// is flattened as json is (an empty one is an empty string). Keys that differ only in case keep the last value:
    /// the document passed validation, so a variant's value never refuses a release here.
    /// </summary>
    private static void VisitValue(JsonElement value, string path, Dictionary<string, string?> data)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var anyProperty = false;
                foreach (var property in value.EnumerateObject())
                {
                    anyProperty = true;
                    VisitValue(property.Value, ConfigurationPath.Combine(path, property.Name), data);
                }

                if (!anyProperty)
                {
                    data[path] = string.Empty;
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    VisitValue(item, ConfigurationPath.Combine(path, index.ToString(System.Globalization.CultureInfo.InvariantCulture)), data);
                    index++;
                }

                if (index == 0)
                {
                    data[path] = string.Empty;
                }

                break;
            case JsonValueKind.True:
                data[path] = "true";
                break;
            case JsonValueKind.False:
                data[path] = "false";
                break;
            case JsonValueKind.Null:
                data[path] = null;
                break;
            case JsonValueKind.String:
                data[path] = value.GetString();
                break;
            default:
                data[path] = value.GetRawText();
                break;
        }
    }

    private static Dictionary<string, string?> FlattenDocument(ConfigRelease release, Dictionary<string, string?> data)
    {
        switch (release.Format.ToLowerInvariant())
        {
            case "properties":
                foreach (var (key, value) in release.Configurations)
                {
                    data[PropertiesKey(key)] = value;
                }

                break;
            case "json":
                FlattenJson(release, data);
                break;
            case "yaml":
                FlattenYaml(release, data);
                break;
            case "text":
                data[release.Namespace] = release.Content;
                break;
            default:
                throw new FormatException($"{release.Namespace}#{release.ReleaseId}: unknown format '{release.Format}'");
        }

        return data;
    }

    /// <summary><c>a.b.c</c> -> <c>a:b:c</c>: the dots of a properties key are configuration path separators.</summary>
    public static string PropertiesKey(string key) => key.Replace('.', ':');

    private static void FlattenJson(ConfigRelease release, Dictionary<string, string?> data)
    {
        if (string.IsNullOrWhiteSpace(release.Content))
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(release.Content, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"{release.Namespace}#{release.ReleaseId}: a json namespace must hold an object, not {document.RootElement.ValueKind}");
            }

            VisitJson(document.RootElement, null, data, release);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{release.Namespace}#{release.ReleaseId}: {e.Message}", e);
        }
    }

    private static void VisitJson(JsonElement element, string? path, Dictionary<string, string?> data, ConfigRelease release)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var anyProperty = false;
                foreach (var property in element.EnumerateObject())
                {
                    anyProperty = true;
                    VisitJson(property.Value, Combine(path, property.Name), data, release);
                }

                if (!anyProperty && path is not null)
                {
                    data[path] = string.Empty;
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    VisitJson(item, Combine(path, index.ToString(System.Globalization.CultureInfo.InvariantCulture)), data, release);
                    index++;
                }

                if (index == 0 && path is not null)
                {
                    data[path] = string.Empty;
                }

                break;
            default:
                var key = path ?? string.Empty;
                if (!data.TryAdd(key, element.ValueKind == JsonValueKind.Null ? null : element.ToString()))
                {
                    throw new FormatException($"{release.Namespace}#{release.ReleaseId}: the key '{key}' is duplicated (keys are case-insensitive)");
                }

                break;
        }
    }

    private static void FlattenYaml(ConfigRelease release, Dictionary<string, string?> data)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(release.Content));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FormatException($"{release.Namespace}#{release.ReleaseId}: yaml: line {e.Start.Line}, column {e.Start.Column}: {e.Message}", e);
        }

        if (stream.Documents.Count == 0)
        {
            return;
        }

        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return;
        }

        if (root is not YamlMappingNode)
        {
            throw new FormatException($"{release.Namespace}#{release.ReleaseId}: a yaml namespace must hold a mapping");
        }

        VisitYaml(root, null, data, release);
    }

    private static void VisitYaml(YamlNode node, string? path, Dictionary<string, string?> data, ConfigRelease release)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (keyNode, value) in mapping.Children)
                {
                    var name = (keyNode as YamlScalarNode)?.Value ?? throw new FormatException($"{release.Namespace}#{release.ReleaseId}: yaml keys must be scalars");
                    VisitYaml(value, Combine(path, name), data, release);
                }

                if (mapping.Children.Count == 0 && path is not null)
                {
                    data[path] = string.Empty;
                }

                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    VisitYaml(sequence.Children[i], Combine(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), data, release);
                }

                if (sequence.Children.Count == 0 && path is not null)
                {
                    data[path] = string.Empty;
                }

                break;
            case YamlScalarNode scalar:
                var key = path ?? string.Empty;
                var plainNull = scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "~" or "null" or "Null" or "NULL";
                if (!data.TryAdd(key, plainNull ? null : scalar.Value ?? string.Empty))
                {
                    throw new FormatException($"{release.Namespace}#{release.ReleaseId}: the key '{key}' is duplicated (keys are case-insensitive)");
                }

                break;
            default:
                throw new FormatException($"{release.Namespace}#{release.ReleaseId}: unsupported yaml node at '{path}'");
        }
    }

    private static string Combine(string? path, string name) => path is null ? name : ConfigurationPath.Combine(path, name);
}

/// <summary>A parsed flags release: its set and each flag's definition as JSON text.</summary>
internal sealed record ParsedFlags(FlagSet Set, IReadOnlyDictionary<string, string> Texts, string Namespace);

/// <summary>The flags of a provider's flags releases merged in namespace order, with each flag's definition as text.</summary>
internal sealed class MergedFlags
{
    public static MergedFlags Empty { get; } = new(FlagSet.Empty, new Dictionary<string, string>(StringComparer.Ordinal), new Dictionary<string, string>(StringComparer.Ordinal));

    private MergedFlags(FlagSet set, IReadOnlyDictionary<string, string> texts, IReadOnlyDictionary<string, string> owners)
    {
        Set = set;
        Texts = texts;
        Owners = owners;
    }

    /// <summary>Each flag's namespace (the last one defining it): where its evaluation counts are reported.</summary>
    public IReadOnlyDictionary<string, string> Owners { get; }

    public FlagSet Set { get; }

    public IReadOnlyDictionary<string, string> Texts { get; }

    public static MergedFlags Of(IReadOnlyList<ParsedFlags> inOrder)
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var parsed in inOrder)
        {
            foreach (var name in parsed.Texts.Keys)
            {
                owners[name] = parsed.Namespace;
            }
        }

        if (inOrder.Count == 1)
        {
            return new MergedFlags(inOrder[0].Set, inOrder[0].Texts, owners);
        }

        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var parsed in inOrder)
        {
            foreach (var (name, text) in parsed.Texts)
            {
                texts[name] = text;
            }
        }

        return new MergedFlags(FlagSet.Merge(inOrder.Select(p => p.Set)), texts, owners);
    }

    /// <summary>The flags added, removed or defined differently in <paramref name="next"/>, sorted ordinally.</summary>
    public IReadOnlyList<string> ChangedIn(MergedFlags next)
    {
        var changed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, text) in Texts)
        {
            if (!next.Texts.TryGetValue(name, out var other) || !string.Equals(text, other, StringComparison.Ordinal))
            {
                changed.Add(name);
            }
        }

        foreach (var name in next.Texts.Keys)
        {
            if (!Texts.ContainsKey(name))
            {
                changed.Add(name);
            }
        }

        return [.. changed];
    }
}

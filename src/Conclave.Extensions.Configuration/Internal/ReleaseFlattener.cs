using System.Text.Json;
using Conclave.Client;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace Conclave.Extensions.Configuration.Internal;

/// <summary>
/// Turns releases into configuration keys. Properties: <c>a.b.c</c> becomes <c>a:b:c</c>. json: flattened as
/// <c>AddJsonFile</c> does (objects by property name, arrays by index, an empty object or array is a key with
/// an empty string, a JSON null a key with a null value). yaml: the same rules over mappings, sequences and scalars. text: one
/// key, the namespace name, holding the document. Later releases override earlier ones key by key.
/// </summary>
internal static class ReleaseFlattener
{
    public static Dictionary<string, string?> Merge(IEnumerable<ConfigRelease> releasesInOrder)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var release in releasesInOrder)
        {
            foreach (var (key, value) in Flatten(release))
            {
                data[key] = value;
            }
        }

        return data;
    }

    /// <summary>The keys of one release. Throws <see cref="FormatException"/> for a document that does not parse.</summary>
    public static Dictionary<string, string?> Flatten(ConfigRelease release)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
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

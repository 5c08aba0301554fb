using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;

namespace Conclave.Flags;

/// <summary>
/// Reads a flags document strictly (docs/feature-flags.md, "Validation at publish"): plain JSON (no comments, no
/// trailing commas, no duplicate names), known fields only, every reference resolved, no prerequisite cycles, and the
/// limits. The first error is thrown with its path.
/// </summary>
internal static partial class FlagDocumentParser
{
    public const int MaxFlags = 1_000;
    public const int MaxRules = 64;
    public const int MaxVariants = 64;
    public const int MaxRuleStrings = 10_000;
    public const int MaxStringLength = 256;
    public const int MaxValueDepth = 32;
    public const int MaxFlagNameLength = 128;
    public const int MaxVariantNameLength = 64;
    public const int MaxDescriptionLength = 1_024;

    private static readonly string[] FlagFields = ["type", "description", "enabled", "variants", "defaultVariant", "offVariant", "rules", "seed"];
    private static readonly string[] RuleFields = ["name", "users", "instances", "groups", "attributes", "window", "prerequisites", "variant", "rollout"];

    public static FlagSet Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (string.IsNullOrWhiteSpace(json))
        {
            // A new flags namespace's working copy: say what belongs there rather than quote the JSON reader.
            throw new FlagDocumentException("", "the document is empty: a flags document is {\"flags\": {...}} (docs/feature-flags.md)");
        }

        JsonDocument document;
        try
        {
            // The document's own structure is 6 levels deep; values may nest MaxValueDepth below that.
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxValueDepth + 8 });
        }
        catch (JsonException e)
        {
            throw new FlagDocumentException("", $"not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            RequireObject(root, "");
            CheckFields(root, "", ["flags"]);
            if (!root.TryGetProperty("flags", out var flagsElement))
            {
                throw new FlagDocumentException("", "a flags document is an object with a \"flags\" object");
            }

            RequireObject(flagsElement, "flags");
            var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var raw = new List<(string Name, JsonElement Element)>();
            foreach (var property in flagsElement.EnumerateObject())
            {
                var path = $"flags[\"{property.Name}\"]";
                CheckName(property.Name, MaxFlagNameLength, path, "flag");
                if (names.TryGetValue(property.Name, out var other))
                {
                    throw new FlagDocumentException(path, string.Equals(other, property.Name, StringComparison.Ordinal)
                        ? "the flag is defined twice"
                        : $"differs from the flag \"{other}\" only in case (.NET configuration keys ignore case)");
                }

                names.Add(property.Name, property.Name);
                if (raw.Count == MaxFlags)
                {
                    throw new FlagDocumentException("flags", $"more than {MaxFlags} flags");
                }

                raw.Add((property.Name, property.Value));
            }

            var flags = new Dictionary<string, FlagDefinition>(StringComparer.Ordinal);
            foreach (var (name, element) in raw)
            {
                flags.Add(name, ReadFlag(name, element));
            }

            CheckPrerequisites(flags);
            return new FlagSet(flags.ToFrozenDictionary(StringComparer.Ordinal));
        }
    }

    private static FlagDefinition ReadFlag(string name, JsonElement element)
    {
        var path = $"flags[\"{name}\"]";
        RequireObject(element, path);
        CheckFields(element, path, FlagFields);

        var typeText = RequiredString(element, "type", path);
        var type = typeText switch
        {
            "boolean" => FlagType.Boolean,
            "string" => FlagType.String,
            "number" => FlagType.Number,
            "json" => FlagType.Json,
            _ => throw new FlagDocumentException(path + ".type", $"'{typeText}' is not a flag type (boolean, string, number, json)"),
        };

        var description = OptionalString(element, "description", path, MaxDescriptionLength);
        var enabled = true;
        if (element.TryGetProperty("enabled", out var enabledElement))
        {
            enabled = enabledElement.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new FlagDocumentException(path + ".enabled", "must be true or false"),
            };
        }

        var variants = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (element.TryGetProperty("variants", out var variantsElement))
        {
            RequireObject(variantsElement, path + ".variants");
            foreach (var variant in variantsElement.EnumerateObject())
            {
                var variantPath = $"{path}.variants[\"{variant.Name}\"]";
                CheckName(variant.Name, MaxVariantNameLength, variantPath, "variant");
                if (!variants.TryAdd(variant.Name, variant.Value.Clone()))
                {
                    throw new FlagDocumentException(variantPath, "the variant is defined twice");
                }

                if (variants.Count > MaxVariants)
                {
                    throw new FlagDocumentException(path + ".variants", $"more than {MaxVariants} variants");
                }

                CheckValue(type, variant.Value, variantPath);
            }

            if (variants.Count == 0)
            {
                throw new FlagDocumentException(path + ".variants", "a flag needs at least one variant");
            }
        }
        else if (type == FlagType.Boolean)
        {
            using var defaults = JsonDocument.Parse("""{"on":true,"off":false}""");
            variants["on"] = defaults.RootElement.GetProperty("on").Clone();
            variants["off"] = defaults.RootElement.GetProperty("off").Clone();
        }
        else
        {
            throw new FlagDocumentException(path, $"a {typeText} flag needs \"variants\"");
        }

        var defaultVariant = RequiredString(element, "defaultVariant", path);
        RequireVariant(variants, defaultVariant, path + ".defaultVariant");
        var offVariant = OptionalString(element, "offVariant", path, MaxVariantNameLength)
            ?? (type == FlagType.Boolean && variants.TryGetValue("off", out var off) && off.ValueKind == JsonValueKind.False ? "off" : defaultVariant);
        RequireVariant(variants, offVariant, path + ".offVariant");

        var seed = OptionalString(element, "seed", path, MaxFlagNameLength) ?? name;
        var rules = new List<FlagRule>();
        if (element.TryGetProperty("rules", out var rulesElement))
        {
            if (rulesElement.ValueKind != JsonValueKind.Array)
            {
                throw new FlagDocumentException(path + ".rules", "must be an array");
            }

            if (rulesElement.GetArrayLength() > MaxRules)
            {
                throw new FlagDocumentException(path + ".rules", $"more than {MaxRules} rules");
            }

            var index = 0;
            foreach (var ruleElement in rulesElement.EnumerateArray())
            {
                rules.Add(ReadRule(ruleElement, $"{path}.rules[{index++}]", variants));
            }
        }

        return new FlagDefinition(name, type, description, enabled, variants.ToFrozenDictionary(StringComparer.Ordinal), defaultVariant, offVariant, [.. rules], seed);
    }

    private static FlagRule ReadRule(JsonElement element, string path, Dictionary<string, JsonElement> variants)
    {
        RequireObject(element, path);
        CheckFields(element, path, RuleFields);
        var name = OptionalString(element, "name", path, MaxStringLength);
        var strings = 0;
        var users = OptionalSet(element, "users", path, ref strings);
        var instances = OptionalSet(element, "instances", path, ref strings);
        var groups = OptionalSet(element, "groups", path, ref strings);

        var attributes = new List<KeyValuePair<string, StringSet>>();
        if (element.TryGetProperty("attributes", out var attributesElement))
        {
            RequireObject(attributesElement, path + ".attributes");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var attribute in attributesElement.EnumerateObject())
            {
                var attributePath = $"{path}.attributes[\"{attribute.Name}\"]";
                if (attribute.Name.Length is 0 or > MaxStringLength)
                {
                    throw new FlagDocumentException(attributePath, $"an attribute name has 1 to {MaxStringLength} characters");
                }

                if (!seen.Add(attribute.Name))
                {
                    throw new FlagDocumentException(attributePath, "the attribute is listed twice");
                }

                attributes.Add(KeyValuePair.Create(attribute.Name, ReadSet(attribute.Value, attributePath, ref strings)));
            }
        }

        DateTimeOffset? start = null, end = null;
        if (element.TryGetProperty("window", out var window))
        {
            var windowPath = path + ".window";
            RequireObject(window, windowPath);
            CheckFields(window, windowPath, ["start", "end"]);
            start = OptionalTime(window, "start", windowPath);
            end = OptionalTime(window, "end", windowPath);
            if (start is null && end is null)
            {
                throw new FlagDocumentException(windowPath, "give \"start\", \"end\" or both");
            }

            if (start is not null && end is not null && start >= end)
            {
                throw new FlagDocumentException(windowPath, "\"start\" must be before \"end\"");
            }
        }

        var prerequisites = new List<FlagPrerequisite>();
        if (element.TryGetProperty("prerequisites", out var prerequisitesElement))
        {
            if (prerequisitesElement.ValueKind != JsonValueKind.Array)
            {
                throw new FlagDocumentException(path + ".prerequisites", "must be an array");
            }

            var index = 0;
            foreach (var item in prerequisitesElement.EnumerateArray())
            {
                var itemPath = $"{path}.prerequisites[{index++}]";
                RequireObject(item, itemPath);
                CheckFields(item, itemPath, ["flag", "variants"]);
                var flag = RequiredString(item, "flag", itemPath);
                if (!item.TryGetProperty("variants", out var listed))
                {
                    throw new FlagDocumentException(itemPath, "\"variants\" is required: which variants of the other flag let this rule match");
                }

                var set = ReadSet(listed, itemPath + ".variants", ref strings);
                if (set.Items.Length == 0)
                {
                    throw new FlagDocumentException(itemPath + ".variants", "list at least one variant");
                }

                prerequisites.Add(new FlagPrerequisite(flag, set.Items));
                if (prerequisites.Count > MaxRules)
                {
                    throw new FlagDocumentException(path + ".prerequisites", $"more than {MaxRules} prerequisites");
                }
            }
        }

        var hasVariant = element.TryGetProperty("variant", out var variantElement);
        var hasRollout = element.TryGetProperty("rollout", out var rolloutElement);
        if (hasVariant == hasRollout)
        {
            throw new FlagDocumentException(path, "a rule has either \"variant\" or \"rollout\"");
        }

        string? variant = null;
        var rollout = new List<FlagRolloutEntry>();
        if (hasVariant)
        {
            if (variantElement.ValueKind != JsonValueKind.String)
            {
                throw new FlagDocumentException(path + ".variant", "must be a string");
            }

            variant = variantElement.GetString()!;
            RequireVariant(variants, variant, path + ".variant");
        }
        else
        {
            var rolloutPath = path + ".rollout";
            if (rolloutElement.ValueKind != JsonValueKind.Array || rolloutElement.GetArrayLength() == 0)
            {
                throw new FlagDocumentException(rolloutPath, "must be a non-empty array of {\"variant\", \"percentage\"}");
            }

            if (rolloutElement.GetArrayLength() > MaxVariants)
            {
                throw new FlagDocumentException(rolloutPath, $"more than {MaxVariants} entries");
            }

            var upper = 0;
            decimal sum = 0;
            var index = 0;
            foreach (var entry in rolloutElement.EnumerateArray())
            {
                var entryPath = $"{rolloutPath}[{index++}]";
                RequireObject(entry, entryPath);
                CheckFields(entry, entryPath, ["variant", "percentage"]);
                var entryVariant = RequiredString(entry, "variant", entryPath);
                RequireVariant(variants, entryVariant, entryPath + ".variant");
                if (!entry.TryGetProperty("percentage", out var percentage) || percentage.ValueKind != JsonValueKind.Number
                    || !percentage.TryGetDecimal(out var share) || share < 0 || share > 100 || share * 100 != decimal.Truncate(share * 100))
                {
                    throw new FlagDocumentException(entryPath + ".percentage", "must be a number from 0 to 100 with at most two decimals");
                }

                sum += share;
                if (sum > 100)
                {
                    throw new FlagDocumentException(rolloutPath, $"the percentages add up to {sum.ToString(CultureInfo.InvariantCulture)}, over 100");
                }

                upper += (int)(share * 100);
                rollout.Add(new FlagRolloutEntry(entryVariant, (double)share, upper));
            }
        }

        return new FlagRule(name, users, instances, groups, [.. attributes], start, end, [.. prerequisites], variant, [.. rollout]);
    }

    private static void CheckPrerequisites(Dictionary<string, FlagDefinition> flags)
    {
        foreach (var flag in flags.Values)
        {
            for (var r = 0; r < flag.Rules.Count; r++)
            {
                for (var p = 0; p < flag.Rules[r].Prerequisites.Count; p++)
                {
                    var prerequisite = flag.Rules[r].Prerequisites[p];
                    var path = $"flags[\"{flag.Name}\"].rules[{r}].prerequisites[{p}]";
                    if (!flags.TryGetValue(prerequisite.Flag, out var other))
                    {
                        throw new FlagDocumentException(path + ".flag", $"no flag \"{prerequisite.Flag}\" in this document");
                    }

                    foreach (var variant in prerequisite.Variants)
                    {
                        RequireVariant(other.Variants, variant, path + ".variants");
                    }
                }
            }
        }

        // Depth-first search for a cycle: white (absent), grey (on the path), black (done).
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var name in flags.Keys)
        {
            Visit(name, []);
        }

        void Visit(string name, List<string> trail)
        {
            if (state.TryGetValue(name, out var done))
            {
                if (!done)
                {
                    var cycle = trail.Skip(trail.IndexOf(name)).Append(name);
                    throw new FlagDocumentException($"flags[\"{trail[^1]}\"]", $"prerequisites go round in a circle: {string.Join(" -> ", cycle)}");
                }

                return;
            }

            state[name] = false;
            trail.Add(name);
            foreach (var rule in flags[name].Rules)
            {
                foreach (var prerequisite in rule.Prerequisites)
                {
                    Visit(prerequisite.Flag, trail);
                }
            }

            trail.RemoveAt(trail.Count - 1);
            state[name] = true;
        }
    }

    private static void CheckValue(FlagType type, JsonElement value, string path)
    {
        var ok = type switch
        {
            FlagType.Boolean => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            FlagType.String => value.ValueKind == JsonValueKind.String,
            FlagType.Number => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number),
            _ => true,
        };
        if (!ok)
        {
            throw new FlagDocumentException(path, $"a {type.ToString().ToLowerInvariant()} flag's variant must be a {type.ToString().ToLowerInvariant()}, not {Describe(value.ValueKind)}");
        }

        CheckNoDuplicates(value, path, 0);
    }

    private static void CheckNoDuplicates(JsonElement value, string path, int depth)
    {
        if (depth > MaxValueDepth)
        {
            throw new FlagDocumentException(path, $"nested deeper than {MaxValueDepth} levels");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in value.EnumerateObject())
                {
                    if (!seen.Add(property.Name))
                    {
                        throw new FlagDocumentException(path, $"the name \"{property.Name}\" appears twice in one object");
                    }

                    CheckNoDuplicates(property.Value, path, depth + 1);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    CheckNoDuplicates(item, path, depth + 1);
                }

                break;
        }
    }

    private static StringSet? OptionalSet(JsonElement element, string field, string path, ref int strings) =>
        element.TryGetProperty(field, out var list) ? ReadSet(list, $"{path}.{field}", ref strings) : null;

    private static StringSet ReadSet(JsonElement list, string path, ref int strings)
    {
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new FlagDocumentException(path, "must be an array of strings");
        }

        strings += list.GetArrayLength();
        if (strings > MaxRuleStrings)
        {
            throw new FlagDocumentException(path, $"a rule's lists hold more than {MaxRuleStrings} strings");
        }

        var items = new List<string>(list.GetArrayLength());
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new FlagDocumentException(path, $"must be an array of strings, not hold {Describe(item.ValueKind)}");
            }

            var text = item.GetString()!;
            if (text.Length > MaxStringLength)
            {
                throw new FlagDocumentException(path, $"a string is longer than {MaxStringLength} characters");
            }

            items.Add(text);
        }

        return new StringSet([.. items.Distinct(StringComparer.Ordinal)]);
    }

    private static DateTimeOffset? OptionalTime(JsonElement element, string field, string path)
    {
        if (!element.TryGetProperty(field, out var value))
        {
            return null;
        }

        // RFC 3339's date-time exactly (the Node evaluator matches the same grammar): a time without an offset is refused,
        // it would mean different instants on members and instances in different zones.
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { } text || !Rfc3339().IsMatch(text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            throw new FlagDocumentException($"{path}.{field}", "must be an RFC 3339 timestamp with an offset, such as 2027-01-10T08:00:00Z");
        }

        return time;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?([Zz]|[+-][0-9]{2}:[0-9]{2})$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex Rfc3339();

    private static void RequireVariant(IReadOnlyDictionary<string, JsonElement> variants, string variant, string path)
    {
        if (!variants.ContainsKey(variant))
        {
            throw new FlagDocumentException(path, $"no variant \"{variant}\" (the flag has {string.Join(", ", variants.Keys.Select(k => $"\"{k}\""))})");
        }
    }

    private static void CheckName(string name, int max, string path, string what)
    {
        if (name.Length == 0 || name.Length > max || !char.IsAsciiLetterOrDigit(name[0]))
        {
            throw new FlagDocumentException(path, $"a {what} name has 1 to {max} characters and starts with a letter or digit");
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                throw new FlagDocumentException(path, $"a {what} name may hold only A-Z, a-z, 0-9, '.', '_' and '-', not '{c}'");
            }
        }
    }

    private static void CheckFields(JsonElement element, string path, string[] known)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                throw new FlagDocumentException(path, $"\"{property.Name}\" appears twice");
            }

            if (Array.IndexOf(known, property.Name) < 0)
            {
                throw new FlagDocumentException(path, $"unknown field \"{property.Name}\" (known: {string.Join(", ", known)})");
            }
        }
    }

    private static void RequireObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new FlagDocumentException(path, $"must be an object, not {Describe(element.ValueKind)}");
        }
    }

    private static string RequiredString(JsonElement element, string field, string path)
    {
        if (!element.TryGetProperty(field, out var value))
        {
            throw new FlagDocumentException(path, $"\"{field}\" is required");
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= MaxStringLength } text)
        {
            throw new FlagDocumentException($"{path}.{field}", $"must be a string of 1 to {MaxStringLength} characters");
        }

        return text;
    }

    private static string? OptionalString(JsonElement element, string field, string path, int max)
    {
        if (!element.TryGetProperty(field, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { } text || text.Length > max)
        {
            throw new FlagDocumentException($"{path}.{field}", $"must be a string of at most {max} characters");
        }

        return text;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}

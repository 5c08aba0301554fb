using System.Text;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Random YAML and JSON documents from a seed (so a failure names the seed and the case and reproduces): ordinary
/// documents, the same mutated (bytes dropped, repeated, swapped), alias bombs of random width and depth (also as
/// mapping keys and through merge keys), aliases inside their own anchor, and nesting around and far past the limit.
/// </summary>
internal sealed class DocumentGenerator(int seed)
{
    private const string Specials = "[{&*:-?|>!%@`'\"\t\n";

    private readonly Random random = new(seed);

    public (Model.NamespaceFormat Format, string Content, string Kind) Next()
    {
        var yaml = random.Next(2) == 0;
        var format = yaml ? Model.NamespaceFormat.Yaml : Model.NamespaceFormat.Json;
        return random.Next(8) switch
        {
            0 => (format, Mutate(yaml ? Yaml(0) : Json(0)), "mutated"),
            1 when yaml => (format, AliasBomb(), "alias bomb"),
            2 when yaml => (format, SelfAlias(), "alias in its own anchor"),
            3 => (format, Nesting(yaml), "deep nesting"),
            4 when yaml => (format, AliasNesting(), "aliases nesting deep"),
            5 => (format, Mutate(yaml ? AliasBomb() : Nesting(false)), "mutated bomb"),
            _ => (format, yaml ? Yaml(0) : Json(0), "ordinary"),
        };
    }

    private string Json(int depth)
    {
        switch (depth > 5 ? random.Next(4) : random.Next(7))
        {
            case 0: return random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            case 1: return "\"" + Word() + "\"";
            case 2: return random.Next(2) == 0 ? "true" : "null";
            case 3: return (random.NextDouble() * 1e6).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            case 4:
            case 5:
                return "{" + string.Join(",", Enumerable.Range(0, random.Next(5)).Select(i => $"\"{Word()}{i}\": {Json(depth + 1)}")) + "}";
            default:
                return "[" + string.Join(",", Enumerable.Range(0, random.Next(5)).Select(_ => Json(depth + 1))) + "]";
        }
    }

    private string Yaml(int depth)
    {
        var text = new StringBuilder();
        var anchors = new List<string>();
        for (var i = 0; i < random.Next(1, 8); i++)
        {
            var key = Word() + i;
            switch (random.Next(5))
            {
                case 0:
                    var anchor = "a" + i;
                    anchors.Add(anchor);
                    text.Append($"{key}: &{anchor} {Json(depth + 1)}\n");
                    break;
                case 1 when anchors.Count > 0:
                    text.Append($"{key}: *{anchors[random.Next(anchors.Count)]}\n");
                    break;
                case 2:
                    text.Append($"{key}:\n").Append(string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(j => $"  - {Word()}{j}\n")));
                    break;
                default:
                    text.Append($"{key}: {Word()}\n");
                    break;
            }
        }

        return text.ToString();
    }

    /// <summary>"Billion laughs": each level lists the previous one <c>width</c> times.</summary>
    private string AliasBomb()
    {
        var width = random.Next(2, 12);
        var levels = random.Next(2, 12);
        var text = new StringBuilder($"l0: &l0 [{string.Join(",", Enumerable.Repeat("lol", width))}]\n");
        for (var i = 1; i < levels; i++)
        {
            text.Append(random.Next(4) == 0 ? $"l{i}: &l{i}\n" + string.Concat(Enumerable.Repeat($"  - *l{i - 1}\n", width)) : $"l{i}: &l{i} [{string.Join(",", Enumerable.Repeat($"*l{i - 1}", width))}]\n");
        }

        switch (random.Next(3))
        {
            case 0:
                text.Append($"? *l{levels - 1}\n: key\n");
                break;
            case 1:
                text.Append($"merged:\n  <<: *l{levels - 1}\n");
                break;
        }

        return text.ToString();
    }

    private string SelfAlias() => random.Next(3) switch
    {
        0 => "a: &a [1, *a]\n",
        1 => "a: &a\n  b: *a\n",
        _ => $"x: &x {{k: [{new string('[', random.Next(1, 10))}*x{new string(']', random.Next(1, 10))}]}}\n",
    };

    private string Nesting(bool yaml)
    {
        var depth = random.Next(4) == 0 ? random.Next(1, 200_000) : random.Next(50, 80);
        if (yaml && random.Next(2) == 0)
        {
            // Block style: one level of indentation per level.
            var text = new StringBuilder();
            for (var i = 0; i < Math.Min(depth, 2_000); i++)
            {
                text.Append(' ', i).Append('k').Append(i).Append(":\n");
            }

            return text.Append(' ', Math.Min(depth, 2_000)).Append("v\n").ToString();
        }

        var open = random.Next(2) == 0 ? '[' : '{';
        if (open == '{')
        {
            var inner = new StringBuilder();
            for (var i = 0; i < depth; i++)
            {
                inner.Append("{\"k\":");
            }

            return inner.Append('1').Append('}', random.Next(3) == 0 ? depth / 2 : depth).ToString();
        }

        return new string('[', depth) + "1" + new string(']', random.Next(3) == 0 ? depth / 2 : depth);
    }

    private string AliasNesting()
    {
        var inner = random.Next(10, 60);
        var outer = random.Next(10, 60);
        return $"a: &a {new string('[', inner)}1{new string(']', inner)}\nb: {new string('[', outer)}*a{new string(']', outer)}\n";
    }

    private string Mutate(string text)
    {
        if (text.Length == 0)
        {
            return text;
        }

        var chars = new StringBuilder(text);
        for (var i = 0; i < random.Next(1, 6); i++)
        {
            var at = random.Next(chars.Length);
            switch (random.Next(4))
            {
                case 0:
                    chars.Remove(at, Math.Min(random.Next(1, 8), chars.Length - at));
                    break;
                case 1:
                    chars.Insert(at, Specials[random.Next(Specials.Length)]);
                    break;
                case 2:
                    var length = Math.Min(random.Next(1, 40), chars.Length - at);
                    var piece = chars.ToString(at, length);
                    chars.Insert(at, string.Concat(Enumerable.Repeat(piece, random.Next(2, 6))));
                    break;
                default:
                    chars[at] = (char)random.Next(1, 0x3000);
                    break;
            }

            if (chars.Length == 0)
            {
                break;
            }
        }

        return chars.ToString();
    }

    private string Word() => string.Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => (char)random.Next('a', 'z' + 1)));
}

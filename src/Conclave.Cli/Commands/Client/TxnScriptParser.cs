using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Conclave.Client;

namespace Conclave.Cli.Commands.Client;

/// <summary>
/// Reads a transaction in etcdctl's txn syntax: comparisons, a blank line, the success operations, a blank line,
/// the failure operations (ended by a blank line or the end of input).
/// <code>
/// value("config/mode") = "blue"
/// mod("config/lock") &lt; "42"
///
/// put config/mode "green"
/// get config/mode
///
/// get config/mode
/// </code>
/// Comparison targets: <c>value</c>/<c>val</c>, <c>version</c>/<c>ver</c>, <c>create</c>/<c>c</c>,
/// <c>mod</c>/<c>m</c>, <c>lease</c>; operators <c>=</c>, <c>!=</c>, <c>&lt;</c>, <c>&gt;</c>. Operations:
/// <c>put KEY VALUE [--lease=ID] [--prev-kv]</c>, <c>get KEY [--prefix] [--from-key] [--rev=N] [--limit=N]
/// [--keys-only] [--count-only]</c>, <c>del KEY [--prefix] [--from-key] [--prev-kv]</c>.
/// </summary>
internal static partial class TxnScriptParser
{
    public static async Task<TxnScript> ParseAsync(TextReader input, TextWriter? prompt, CancellationToken cancellationToken)
    {
        var compares = new List<Compare>();
        var success = new List<Op>();
        var failure = new List<Op>();
        var lineNumber = 0;

        async Task<bool> ReadSectionAsync(string title, Action<string, int> add)
        {
            if (prompt is not null)
            {
                await prompt.WriteLineAsync(title);
            }

            while (await input.ReadLineAsync(cancellationToken) is { } line)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    return true;
                }

                add(line.Trim(), lineNumber);
            }

            return false;
        }

        if (await ReadSectionAsync("compares:", (line, n) => compares.Add(ParseCompare(line, n)))
            && await ReadSectionAsync("\nsuccess requests (get, put, del):", (line, n) => success.Add(ParseOp(line, n))))
        {
            await ReadSectionAsync("\nfailure requests (get, put, del):", (line, n) => failure.Add(ParseOp(line, n)));
        }

        return new TxnScript(compares, success, failure);
    }

    public static Compare ParseCompare(string line, int lineNumber = 1)
    {
        var match = CompareSyntax().Match(line);
        if (!match.Success)
        {
            throw new FormatException($"txn line {lineNumber}: '{line}' is not a comparison; expected e.g. value(\"key\") = \"v\" or mod(\"key\") > \"3\".");
        }

        var target = match.Groups["target"].Value.ToLowerInvariant();
        var key = Unquote(match.Groups["key"].Value, lineNumber);
        var op = match.Groups["op"].Value;
        var operand = Unquote(match.Groups["value"].Value, lineNumber);

        if (target is "value" or "val")
        {
            var value = Compare.Value(key);
            return op switch
            {
                "=" or "==" => value.EqualTo(operand),
                "!=" => value.NotEqualTo(operand),
                "<" => value.LessThan(operand),
                _ => value.GreaterThan(operand),
            };
        }

        var number = target switch
        {
            "version" or "ver" => Compare.Version(key),
            "create" or "c" => Compare.CreateRevision(key),
            "mod" or "m" => Compare.ModRevision(key),
            "lease" => Compare.Lease(key),
            _ => throw new FormatException($"txn line {lineNumber}: unknown comparison target '{target}'; use value, version, create, mod or lease."),
        };
        var parsed = target == "lease" ? ParseLease(operand, lineNumber) : ParseLong(operand, target, lineNumber);
        return op switch
        {
            "=" or "==" => number.EqualTo(parsed),
            "!=" => number.NotEqualTo(parsed),
            "<" => number.LessThan(parsed),
            _ => number.GreaterThan(parsed),
        };
    }

    public static Op ParseOp(string line, int lineNumber = 1)
    {
        var words = Split(line, lineNumber);
        var positional = new List<string>();
        var flags = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 1; i < words.Count; i++)
        {
            var word = words[i];
            if (word.StartsWith("--", StringComparison.Ordinal) && word.Length > 2)
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                flags[eq < 0 ? word : word[..eq]] = eq < 0 ? null : word[(eq + 1)..];
            }
            else
            {
                positional.Add(word);
            }
        }

        var verb = words.Count > 0 ? words[0].ToLowerInvariant() : string.Empty;
        switch (verb)
        {
            case "put":
                Expect(positional, 2, "put KEY VALUE", lineNumber);
                Allow(flags, lineNumber, "--lease", "--prev-kv");
                return Op.Put(positional[0], positional[1], new PutOptions
                {
                    Lease = flags.TryGetValue("--lease", out var lease) ? ParseLease(lease, lineNumber) : 0,
                    PrevKv = flags.ContainsKey("--prev-kv"),
                });
            case "get":
                Expect(positional, 1, "get KEY", lineNumber);
                Allow(flags, lineNumber, "--prefix", "--from-key", "--rev", "--limit", "--keys-only", "--count-only");
                return Op.Get(positional[0], new GetOptions
                {
                    Prefix = flags.ContainsKey("--prefix"),
                    FromKey = flags.ContainsKey("--from-key"),
                    Revision = flags.TryGetValue("--rev", out var rev) ? ParseLong(rev, "--rev", lineNumber) : 0,
                    Limit = flags.TryGetValue("--limit", out var limit) ? ParseLong(limit, "--limit", lineNumber) : 0,
                    KeysOnly = flags.ContainsKey("--keys-only"),
                    CountOnly = flags.ContainsKey("--count-only"),
                });
            case "del" or "delete":
                Expect(positional, 1, "del KEY", lineNumber);
                Allow(flags, lineNumber, "--prefix", "--from-key", "--prev-kv");
                return Op.Delete(positional[0], new DeleteOptions
                {
                    Prefix = flags.ContainsKey("--prefix"),
                    FromKey = flags.ContainsKey("--from-key"),
                    PrevKv = flags.ContainsKey("--prev-kv"),
                });
            default:
                throw new FormatException($"txn line {lineNumber}: '{line}' is not an operation; expected put, get or del.");
        }
    }

    /// <summary>Splits a line into words; double or single quotes group words, backslash escapes inside double quotes.</summary>
    public static List<string> Split(string line, int lineNumber = 1)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }

                continue;
            }

            inWord = true;
            if (c is '"' or '\'')
            {
                var close = i + 1;
                for (; close < line.Length && line[close] != c; close++)
                {
                    if (c == '"' && line[close] == '\\' && close + 1 < line.Length)
                    {
                        close++;
                        word.Append(Escape(line[close]));
                    }
                    else
                    {
                        word.Append(line[close]);
                    }
                }

                if (close >= line.Length)
                {
                    throw new FormatException($"txn line {lineNumber}: unterminated {c} quote in '{line}'.");
                }

                i = close;
            }
            else
            {
                word.Append(c);
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static string Unquote(string text, int lineNumber)
    {
        var words = Split(text, lineNumber);
        return words.Count == 1 ? words[0] : text;
    }

    private static char Escape(char c) => c switch
    {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        _ => c,
    };

    private static long ParseLong(string? text, string what, int lineNumber) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"txn line {lineNumber}: {what} needs an integer, got '{text}'.");

    private static long ParseLease(string? text, int lineNumber) =>
        LeaseId.TryParse(text, out var lease)
            ? lease
            : throw new FormatException($"txn line {lineNumber}: a lease ID is hexadecimal (as etcdctl prints it), got '{text}'.");

    private static void Expect(List<string> positional, int count, string usage, int lineNumber)
    {
        if (positional.Count != count)
        {
            throw new FormatException($"txn line {lineNumber}: expected '{usage}', got {positional.Count} argument(s).");
        }
    }

    private static void Allow(Dictionary<string, string?> flags, int lineNumber, params string[] allowed)
    {
        foreach (var flag in flags.Keys)
        {
            if (Array.IndexOf(allowed, flag) < 0)
            {
                throw new FormatException($"txn line {lineNumber}: unknown flag {flag}; allowed: {string.Join(", ", allowed)}.");
            }
        }
    }

    [GeneratedRegex("""^(?<target>[A-Za-z_]+)\(\s*(?<key>"(?:[^"\\]|\\.)*"|'[^']*'|[^)\s]+)\s*\)\s*(?<op>==|=|!=|<|>)\s*(?<value>.*?)\s*$""")]
    private static partial Regex CompareSyntax();
}

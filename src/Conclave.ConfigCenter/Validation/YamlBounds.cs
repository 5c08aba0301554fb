using YamlDotNet.Core.Events;

namespace Conclave.ConfigCenter.Validation;

/// <summary>
/// Bounds a YAML document from its parser events, before anything is built from it: nesting at most
/// <see cref="MaxDepth"/> levels, and no more values, aliases expanded, than one per character of the document plus
/// <see cref="SpareValues"/>. An alias repeats its anchor's node, so nested aliases multiply ("billion laughs": seven
/// levels of ten aliases were 10^8 values and 9.7 GB of heap, and as a mapping key they also made loading itself
/// exponential), and an alias inside its own anchor makes a cycle (it overflowed the stack, as did 120,000 nested
/// <c>[</c>: YamlDotNet loads recursively). A document without aliases has fewer values than characters.
/// </summary>
internal sealed class YamlBounds(int contentLength)
{
    /// <summary>Deepest nesting of mappings and sequences, aliases expanded (System.Text.Json's default for JSON).</summary>
    public const int MaxDepth = 64;

    /// <summary>Values an alias may add beyond one per character of the document.</summary>
    public const int SpareValues = 1024;

    private readonly long maxValues = (long)contentLength + SpareValues;
    private readonly Dictionary<string, (long Values, int Depth)> anchors = new(StringComparer.Ordinal);
    private readonly Stack<Collection> open = new();
    private long values;

    /// <summary>Takes the next event; the reason the document is refused, or null while it is within the bounds.</summary>
    public string? Observe(ParsingEvent e)
    {
        switch (e)
        {
            case DocumentStart:
                anchors.Clear();
                break;
            case MappingStart or SequenceStart:
                values++;
                open.Push(new Collection(AnchorOf(e), values - 1, open.Count + 1));
                if (open.Count > MaxDepth)
                {
                    return $"nesting deeper than {MaxDepth} levels";
                }

                break;
            case MappingEnd or SequenceEnd when open.Count > 0:
                var closed = open.Pop();
                if (closed.Anchor is { } name)
                {
                    anchors[name] = (values - closed.ValuesBefore, closed.Deepest - open.Count);
                }

                Reach(closed.Deepest);
                break;
            case Scalar s:
                values++;
                if (AnchorOf(s) is { } scalarAnchor)
                {
                    anchors[scalarAnchor] = (1, 0);
                }

                break;
            case AnchorAlias alias:
                if (open.Any(c => c.Anchor == alias.Value.Value))
                {
                    return $"alias *{alias.Value.Value} is inside its own anchor";
                }

                // An unknown anchor is left to the loader, which reports it.
                if (anchors.TryGetValue(alias.Value.Value, out var anchored))
                {
                    values += anchored.Values;
                    if (open.Count + anchored.Depth > MaxDepth)
                    {
                        return $"aliases nest the document deeper than {MaxDepth} levels";
                    }

                    Reach(open.Count + anchored.Depth);
                }

                break;
        }

        return values > maxValues
            ? $"aliases expand the document to more than {maxValues} values (one per character of the document, plus {SpareValues})"
            : null;
    }

    private void Reach(int depth)
    {
        if (open.TryPeek(out var parent) && depth > parent.Deepest)
        {
            parent.Deepest = depth;
        }
    }

    private static string? AnchorOf(ParsingEvent e) => e is NodeEvent { Anchor: { IsEmpty: false } anchor } ? anchor.Value : null;

    private sealed class Collection(string? anchor, long valuesBefore, int depth)
    {
        public string? Anchor { get; } = anchor;

        public long ValuesBefore { get; } = valuesBefore;

        /// <summary>The deepest level reached inside it so far (its own level to begin with).</summary>
        public int Deepest { get; set; } = depth;
    }
}

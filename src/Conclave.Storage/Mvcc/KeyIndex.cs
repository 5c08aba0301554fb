using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// A keyspace's histories in key order: sorted blocks of up to <see cref="BlockSize"/> histories each, found by a
/// binary search over the blocks' first keys and then within the block (ADR 0017). It replaced a
/// <c>SortedSet</c>, whose node per key cost 48 bytes and an object the collector traces, and whose lookups
/// allocated a probe history each: here a key costs its slot (8 bytes, blocks at least a quarter full after removals,
/// full when keys arrive in order) and a lookup allocates nothing.
/// Not thread-safe: the keyspace's owner serialises writers and readers, as for every other part of it.
/// </summary>
internal sealed class KeyIndex
{
    /// <summary>Most histories in one block.</summary>
    internal const int BlockSize = 128;

    private readonly List<Block> blocks = [];

    public int Count { get; private set; }

    /// <summary>Builds the index from histories already in strictly ascending key order (a restored snapshot's).</summary>
    public static KeyIndex FromSorted(IReadOnlyList<KeyHistory> sorted)
    {
        var index = new KeyIndex();
        for (var i = 0; i < sorted.Count; i += BlockSize)
        {
            var n = Math.Min(BlockSize, sorted.Count - i);
            var block = new Block();
            for (var j = 0; j < n; j++)
            {
                block.Items[j] = sorted[i + j];
            }

            block.Count = n;
            index.blocks.Add(block);
        }

        index.Count = sorted.Count;
        return index;
    }

    /// <summary>The history of <paramref name="key"/>, or null.</summary>
    public KeyHistory? Find(ReadOnlySpan<byte> key)
    {
        var b = BlockFor(key);
        if (b < 0)
        {
            return null;
        }

        var block = blocks[b];
        var i = Search(block, key);
        return i >= 0 ? block.Items[i] : null;
    }

    /// <summary>Adds a history whose key is not in the index yet.</summary>
    public void Add(KeyHistory history)
    {
        if (blocks.Count == 0)
        {
            var first = new Block();
            first.Items[0] = history;
            first.Count = 1;
            blocks.Add(first);
            Count = 1;
            return;
        }

        var b = Math.Max(0, BlockFor(history.KeySpan));
        var block = blocks[b];
        var i = Search(block, history.KeySpan);
        if (i >= 0)
        {
            throw new InvalidOperationException("the key is already in the index");
        }

        i = ~i;
        if (block.Count == BlockSize)
        {
            if (b == blocks.Count - 1 && i == BlockSize)
            {
                // Keys arriving in order (a load, a restore-like pattern): a new block, the full one stays full.
                var next = new Block();
                next.Items[0] = history;
                next.Count = 1;
                blocks.Add(next);
                Count++;
                return;
            }

            // Split in halves and insert into the half the key belongs to.
            var right = new Block();
            const int half = BlockSize / 2;
            Array.Copy(block.Items, half, right.Items, 0, BlockSize - half);
            Array.Clear(block.Items, half, BlockSize - half);
            right.Count = BlockSize - half;
            block.Count = half;
            blocks.Insert(b + 1, right);
            if (i > half)
            {
                block = right;
                i -= half;
            }
        }

        Array.Copy(block.Items, i, block.Items, i + 1, block.Count - i);
        block.Items[i] = history;
        block.Count++;
        Count++;
    }

    /// <summary>Removes every history <paramref name="remove"/> selects, in one pass, keeping the order.</summary>
    public void RemoveWhere(Func<KeyHistory, bool> remove)
    {
        var kept = 0;
        for (var b = 0; b < blocks.Count; b++)
        {
            var block = blocks[b];
            var n = 0;
            for (var i = 0; i < block.Count; i++)
            {
                if (!remove(block.Items[i]))
                {
                    block.Items[n++] = block.Items[i];
                }
            }

            Array.Clear(block.Items, n, block.Count - n);
            block.Count = n;
            kept += n;
        }

        // Merge neighbours that fit in one block, so removals never leave the index mostly empty blocks: afterwards no
        // two adjacent blocks hold BlockSize or fewer together, so blocks average more than half full.
        var merged = new List<Block>(blocks.Count);
        foreach (var block in blocks)
        {
            if (block.Count == 0)
            {
                continue;
            }

            if (merged.Count > 0 && merged[^1].Count + block.Count <= BlockSize)
            {
                var into = merged[^1];
                Array.Copy(block.Items, 0, into.Items, into.Count, block.Count);
                into.Count += block.Count;
            }
            else
            {
                merged.Add(block);
            }
        }

        blocks.Clear();
        blocks.AddRange(merged);
        Count = kept;
    }

    /// <summary>Every history in key order.</summary>
    public IEnumerable<KeyHistory> All()
    {
        foreach (var block in blocks)
        {
            for (var i = 0; i < block.Count; i++)
            {
                yield return block.Items[i];
            }
        }
    }

    /// <summary>The histories whose keys are at or after <paramref name="key"/>, in key order (the caller stops at its end).</summary>
    public IEnumerable<KeyHistory> From(ByteString key)
    {
        var b = Math.Max(0, BlockFor(key.Span));
        if (b >= blocks.Count)
        {
            yield break;
        }

        var i = Search(blocks[b], key.Span);
        i = i >= 0 ? i : ~i;
        for (; b < blocks.Count; b++, i = 0)
        {
            var block = blocks[b];
            for (; i < block.Count; i++)
            {
                yield return block.Items[i];
            }
        }
    }

    /// <summary>How many blocks hold the histories (for tests).</summary>
    internal int BlockCount => blocks.Count;

    /// <summary>The last block whose first key is at or before <paramref name="key"/>; -1 when the key is before all (or none).</summary>
    private int BlockFor(ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = blocks.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (blocks[mid].Items[0].KeySpan.SequenceCompareTo(key) <= 0)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    /// <summary>The index of <paramref name="key"/> in the block, or the complement of where it would go.</summary>
    private static int Search(Block block, ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = block.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = block.Items[mid].KeySpan.SequenceCompareTo(key);
            if (c == 0)
            {
                return mid;
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return ~lo;
    }

    private sealed class Block
    {
        public readonly KeyHistory[] Items = new KeyHistory[BlockSize];
        public int Count;
    }
}

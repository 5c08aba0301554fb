using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// A keyspace's histories in key order (their row numbers in its <see cref="HistoryRows"/>): sorted blocks of up to
/// <see cref="BlockSize"/> histories each, found by a binary search over the blocks' first keys and then within the
/// block (ADR 0017). It replaced a
/// <c>SortedSet</c>, whose node per key cost 48 bytes and an object the collector traces, and whose lookups
/// allocated a probe history each: here a key costs its slot (4 bytes, blocks at least a quarter full after removals,
/// full when keys arrive in order) and a lookup allocates nothing.
/// A snapshot writer reads the index as it was when captured (<see cref="Freeze"/>) on its own thread while writes go on:
/// blocks are copied before they change once a capture may read them, so a capture costs a list of the blocks, not a
/// copy or a sort of the keys (it replaced an array of every history in creation order and one in key order: 16 bytes a
/// key).
/// Not thread-safe: the keyspace's owner serialises writers and readers, as for every other part of it.
/// </summary>
internal sealed class KeyIndex(HistoryRows rows)
{
    /// <summary>Most histories in one block.</summary>
    internal const int BlockSize = 128;

    private readonly List<Block> blocks = [];

    // Blocks made in an earlier epoch than this may be read by a capture (Freeze starts a new epoch): copied before changed.
    private int epoch;

    public int Count { get; private set; }

    /// <summary>The rows the index's histories are in.</summary>
    public HistoryRows Rows => rows;

    /// <summary>Builds the index from histories of <paramref name="rows"/> already in strictly ascending key order (a restored snapshot's).</summary>
    public static KeyIndex FromSorted(HistoryRows rows, IReadOnlyList<KeyHistory> sorted)
    {
        var index = new KeyIndex(rows);
        for (var i = 0; i < sorted.Count; i += BlockSize)
        {
            var n = Math.Min(BlockSize, sorted.Count - i);
            var block = new Block(0);
            for (var j = 0; j < n; j++)
            {
                block.Items[j] = index.RowOf(sorted[i + j]);
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
        return i >= 0 ? new KeyHistory(rows, block.Items[i]) : null;
    }

    /// <summary>Adds a history whose key is not in the index yet.</summary>
    public void Add(KeyHistory added)
    {
        var history = RowOf(added);
        var key = added.KeySpan;
        if (blocks.Count == 0)
        {
            var first = new Block(epoch);
            first.Items[0] = history;
            first.Count = 1;
            blocks.Add(first);
            Count = 1;
            return;
        }

        var b = Math.Max(0, BlockFor(key));
        var block = blocks[b];
        var i = Search(block, key);
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
                var next = new Block(epoch);
                next.Items[0] = history;
                next.Count = 1;
                blocks.Add(next);
                Count++;
                return;
            }

            // A neighbour with room takes this block's last (or first) history, so keys arriving a little out of order keep
            // blocks full instead of splitting them.
            if (b + 1 < blocks.Count && blocks[b + 1].Count < BlockSize)
            {
                var next = Own(b + 1);
                block = Own(b);
                if (i < BlockSize)
                {
                    InsertAt(next, 0, block.Items[BlockSize - 1]);
                    block.Count--;
                }
                else
                {
                    // After this block's last key and before the next block's first: the next block's new first key.
                    (block, i) = (next, 0);
                }

                InsertAt(block, i, history);
                Count++;
                return;
            }

            if (b > 0 && i > 0 && blocks[b - 1].Count < BlockSize)
            {
                var previous = Own(b - 1);
                block = Own(b);
                previous.Items[previous.Count++] = block.Items[0];
                Array.Copy(block.Items, 1, block.Items, 0, BlockSize - 1);
                block.Count--;
                InsertAt(block, i - 1, history);
                Count++;
                return;
            }

            // Split and insert into the part the key belongs to: in halves, or for the last block at the key's place in its
            // second half. Keys arriving nearly in order (many writers loading a range) land near the end of the last
            // block; halves would leave a half-empty block behind each time, this split leaves it nearly full.
            block = Own(b);
            var right = new Block(epoch);
            const int half = BlockSize / 2;
            var split = b == blocks.Count - 1 && i > half ? i : half;
            Array.Copy(block.Items, split, right.Items, 0, BlockSize - split);
            Array.Clear(block.Items, split, BlockSize - split);
            right.Count = BlockSize - split;
            block.Count = split;
            blocks.Insert(b + 1, right);
            if (i > split)
            {
                block = right;
                i -= split;
            }
        }
        else
        {
            block = Own(b);
        }

        InsertAt(block, i, history);
        Count++;
    }

    private static void InsertAt(Block block, int i, int history)
    {
        Array.Copy(block.Items, i, block.Items, i + 1, block.Count - i);
        block.Items[i] = history;
        block.Count++;
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
                var history = block.Items[i];
                if (remove(new KeyHistory(rows, history)))
                {
                    if (n == i)
                    {
                        block = Own(b); // the first removal in this block: from here on it changes
                    }

                    continue;
                }

                if (n != i)
                {
                    block.Items[n] = history;
                }

                n++;
            }

            if (n != block.Count)
            {
                Array.Clear(block.Items, n, block.Count - n);
                block.Count = n;
            }

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
                if (into.Epoch != epoch)
                {
                    into = merged[^1] = into.Copy(epoch);
                }

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
                yield return new KeyHistory(rows, block.Items[i]);
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
                yield return new KeyHistory(rows, block.Items[i]);
            }
        }
    }

    /// <summary>
    /// The index as it is now, for a reader on another thread while the index changes (call it as a reader: no writer
    /// runs meanwhile). Every block in it is copied before it changes from now on; the view's blocks never change.
    /// </summary>
    public Frozen Freeze()
    {
        var view = new Frozen(blocks.ToArray(), Count, rows);
        Interlocked.Increment(ref epoch); // captures may be taken by concurrent readers
        return view;
    }

    /// <summary>The block at <paramref name="b"/>, copied first when a capture may read it.</summary>
    private Block Own(int b)
    {
        var block = blocks[b];
        if (block.Epoch == epoch)
        {
            return block;
        }

        var copy = block.Copy(epoch);
        blocks[b] = copy;
        return copy;
    }

    private ReadOnlySpan<byte> KeyOf(int row) => new KeyHistory(rows, row).KeySpan;

    private int RowOf(KeyHistory history) => ReferenceEquals(history.Rows, rows)
        ? history.Row
        : throw new ArgumentException("the history is not in this index's rows", nameof(history));

    /// <summary>How many blocks hold the histories (for tests).</summary>
    internal int BlockCount => blocks.Count;

    /// <summary>The last block whose first key is at or before <paramref name="key"/>; -1 when the key is before all (or none).</summary>
    private int BlockFor(ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = blocks.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (KeyOf(blocks[mid].Items[0]).SequenceCompareTo(key) <= 0)
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
    private int Search(Block block, ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = block.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = KeyOf(block.Items[mid]).SequenceCompareTo(key);
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

    /// <summary>An index's blocks as they were when frozen, with the number of histories in them.</summary>
    internal sealed class Frozen(Block[] blocks, int count, HistoryRows rows)
    {
        public int Count => count;

        /// <summary>The histories in key order.</summary>
        public IEnumerable<KeyHistory> All()
        {
            foreach (var block in blocks)
            {
                for (var i = 0; i < block.Count; i++)
                {
                    yield return new KeyHistory(rows, block.Items[i]);
                }
            }
        }
    }

    internal sealed class Block(int epoch)
    {
        public readonly int[] Items = new int[BlockSize]; // rows of the index's HistoryRows
        public int Count;

        /// <summary>The index's epoch when this block was made: it may be changed in place only in that epoch.</summary>
        public int Epoch { get; } = epoch;

        public Block Copy(int newEpoch)
        {
            var copy = new Block(newEpoch) { Count = Count };
            Array.Copy(Items, copy.Items, Count);
            return copy;
        }
    }
}

using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// The keyspace's index of sorted blocks against a sorted set of the same keys: random insertions (in order, at random,
/// at the front), bulk removals, lookups of present and absent keys and scans from any key must agree, the blocks
/// stay at least half full on average, and every frozen view keeps the keys it was taken with through the changes after it.
/// </summary>
public sealed class KeyIndexTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Lookups_scans_insertions_and_removals_agree_with_a_sorted_set(int seed)
    {
        var random = new Random(seed);
        var rows = new HistoryRows();
        var index = new KeyIndex(rows);
        var model = new SortedSet<string>(StringComparer.Ordinal);
        var histories = new Dictionary<string, KeyHistory>();
        var sequential = 0;
        var views = new List<(KeyIndex.Frozen View, string[] Keys)>();
        for (var step = 0; step < 40; step++)
        {
            if (random.Next(2) == 0)
            {
                // A snapshot capture: its writer reads the view on another thread while the index changes.
                views.Add((index.Freeze(), model.ToArray()));
            }

            // A batch of insertions of one kind: keys in ascending order (a load), random keys, or keys before all others.
            var kind = random.Next(3);
            for (var n = random.Next(1, 800); n > 0; n--)
            {
                var key = kind switch
                {
                    0 => $"m{sequential++:D7}",
                    1 => $"r{random.Next(100_000):D6}",
                    _ => $"a{random.Next(1_000):D4}",
                };
                if (model.Add(key))
                {
                    var history = rows.New(ByteString.CopyFromUtf8(key));
                    histories[key] = history;
                    index.Add(history);
                }
                else
                {
                    Assert.Throws<InvalidOperationException>(() => index.Add(rows.New(ByteString.CopyFromUtf8(key))));
                }
            }

            if (random.Next(3) == 0)
            {
                // Remove a random share, as a compaction removes emptied keys, or a run of neighbouring keys (blocks left
                // alone beside blocks emptied: merges into blocks a frozen view still reads).
                var share = random.NextDouble();
                var from = random.Next(Math.Max(1, model.Count));
                var run = random.Next(1, 400);
                var gone = (random.Next(2) == 0
                    ? model.Where(_ => random.NextDouble() < share)
                    : model.Skip(from).Take(run)).ToHashSet(StringComparer.Ordinal);
                index.RemoveWhere(h => gone.Contains(h.Key.ToStringUtf8()));
                model.ExceptWith(gone);
                foreach (var key in gone)
                {
                    histories.Remove(key);
                }

                Assert.True(index.BlockCount <= (2 * model.Count / KeyIndex.BlockSize) + 1, $"{index.BlockCount} blocks for {model.Count} keys");
            }

            Assert.Equal(model.Count, index.Count);
            Assert.Equal(model, index.All().Select(h => h.Key.ToStringUtf8()));
            foreach (var (view, keys) in views)
            {
                Assert.Equal(keys.Length, view.Count);
                Assert.Equal(keys, view.All().Select(h => h.Key.ToStringUtf8()));
            }

            for (var probe = 0; probe < 50; probe++)
            {
                var key = random.Next(4) switch
                {
                    0 when model.Count > 0 => model.ElementAt(random.Next(model.Count)),
                    1 => $"r{random.Next(100_000):D6}",
                    2 => "",
                    _ => $"z{random.Next(10)}",
                };
                var found = index.Find(ByteString.CopyFromUtf8(key).Span);
                if (model.Contains(key))
                {
                    Assert.Equal(histories[key], found);
                }
                else
                {
                    Assert.Null(found);
                }

                var expected = model.Where(k => string.CompareOrdinal(k, key) >= 0).Take(300);
                Assert.Equal(expected, index.From(ByteString.CopyFromUtf8(key)).Take(300).Select(h => h.Key.ToStringUtf8()));
            }
        }
    }

    [Fact]
    public void Keys_added_in_order_fill_their_blocks_and_a_restore_builds_full_blocks()
    {
        var rows = new HistoryRows();
        var index = new KeyIndex(rows);
        var sorted = Enumerable.Range(0, 10_000).Select(i => rows.New(ByteString.CopyFromUtf8($"k{i:D6}"))).ToList();
        foreach (var history in sorted)
        {
            index.Add(history);
        }

        var full = (10_000 + KeyIndex.BlockSize - 1) / KeyIndex.BlockSize;
        Assert.Equal(full, index.BlockCount);
        var restored = KeyIndex.FromSorted(rows, sorted);
        Assert.Equal(full, restored.BlockCount);
        Assert.Equal(sorted, restored.All());
        Assert.Equal(sorted[4_321], restored.Find(ByteString.CopyFromUtf8("k004321").Span));
        Assert.Empty(new KeyIndex(new HistoryRows()).From(ByteString.CopyFromUtf8("a")));
    }

    [Fact]
    public void Keys_arriving_nearly_in_order_leave_their_blocks_nearly_full()
    {
        // 64 writers loading a range: each key arrives up to 64 places after where order would put it. Halving the last
        // block at each late key left blocks 73% full on average (11 MB of slots for a million keys).
        var rows = new HistoryRows();
        var index = new KeyIndex(rows);
        var random = new Random(4);
        const int keys = 100_000;
        var order = Enumerable.Range(0, keys).Select(i => (Key: i, At: i + random.Next(64))).OrderBy(k => k.At).Select(k => k.Key);
        foreach (var i in order)
        {
            index.Add(rows.New(ByteString.CopyFromUtf8($"k{i:D6}")));
        }

        Assert.Equal(Enumerable.Range(0, keys).Select(i => $"k{i:D6}"), index.All().Select(h => h.Key.ToStringUtf8()));
        var fill = (double)keys / (index.BlockCount * KeyIndex.BlockSize);
        Assert.True(fill >= 0.85, $"blocks {fill:P0} full");
    }
}

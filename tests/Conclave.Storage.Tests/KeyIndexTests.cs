using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// The keyspace's index of sorted blocks against a sorted set of the same keys: random insertions (in order, at random,
/// at the front), bulk removals, lookups of present and absent keys and scans from any key must agree, and the blocks
/// stay at least half full on average.
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
        var index = new KeyIndex();
        var model = new SortedSet<string>(StringComparer.Ordinal);
        var histories = new Dictionary<string, KeyHistory>();
        var sequential = 0;
        for (var step = 0; step < 40; step++)
        {
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
                    var history = new KeyHistory(ByteString.CopyFromUtf8(key));
                    histories[key] = history;
                    index.Add(history);
                }
                else
                {
                    Assert.Throws<InvalidOperationException>(() => index.Add(new KeyHistory(ByteString.CopyFromUtf8(key))));
                }
            }

            if (random.Next(3) == 0)
            {
                // Remove a random share, as a compaction removes emptied keys.
                var share = random.NextDouble();
                var gone = model.Where(_ => random.NextDouble() < share).ToHashSet(StringComparer.Ordinal);
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
                    Assert.Same(histories[key], found);
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
        var index = new KeyIndex();
        var sorted = Enumerable.Range(0, 10_000).Select(i => new KeyHistory(ByteString.CopyFromUtf8($"k{i:D6}"))).ToList();
        foreach (var history in sorted)
        {
            index.Add(history);
        }

        var full = (10_000 + KeyIndex.BlockSize - 1) / KeyIndex.BlockSize;
        Assert.Equal(full, index.BlockCount);
        var restored = KeyIndex.FromSorted(sorted);
        Assert.Equal(full, restored.BlockCount);
        Assert.Equal(sorted, restored.All());
        Assert.Same(sorted[4_321], restored.Find(ByteString.CopyFromUtf8("k004321").Span));
        Assert.Empty(new KeyIndex().From(ByteString.CopyFromUtf8("a")));
    }
}

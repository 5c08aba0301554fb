using Conclave.Storage.Auth;

namespace Conclave.Storage.Tests;

/// <summary>
/// Permission ranges (ADR 0014): merged intervals answer "does the user hold every key of this range" exactly as
/// checking each key would. Checked against brute force over every key of up to three bytes from a small alphabet.
/// </summary>
public sealed class KeyIntervalsTests
{
    private static readonly byte[] Alphabet = [0, (byte)'a', (byte)'b', (byte)'c'];

    [Fact]
    public void Single_keys_prefixes_and_open_ranges_are_covered_as_etcd_means_them()
    {
        var set = KeyIntervals.Of([(K("a"), []), (K("b/"), K("b0")), (K("x"), [0])]);
        Assert.True(set.Covers(K("a"), []));
        Assert.False(set.Covers(K("a"), K("b"))); // "a\0", "aa" ... are not granted
        Assert.True(set.Covers(K("b/"), K("b0")));
        Assert.True(set.Covers(K("b/c"), []));
        Assert.False(set.Covers(K("b"), K("b0")));
        Assert.True(set.Covers(K("x"), [0]));
        Assert.True(set.Covers(K("zzz"), [0]));
        Assert.False(set.Covers(K("w"), [0]));
        Assert.False(KeyIntervals.Empty.Covers(K("a"), []));
    }

    [Fact]
    public void Adjacent_and_overlapping_grants_merge_into_one_range()
    {
        var set = KeyIntervals.Of([(K("a"), K("c")), (K("c"), K("e")), (K("b"), K("d"))]);
        Assert.Equal(1, set.Count);
        Assert.True(set.Covers(K("a"), K("e")));
        Assert.False(set.Covers(K("a"), K("e\0")));
    }

    [Fact]
    public void Covers_agrees_with_checking_every_key()
    {
        var keys = AllKeys(3);
        var random = new Random(20261206);
        for (var round = 0; round < 400; round++)
        {
            var grants = Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomRange(random)).ToList();
            var set = KeyIntervals.Of(grants);
            for (var probe = 0; probe < 40; probe++)
            {
                var (key, end) = RandomRange(random);
                var selected = keys.Where(k => InRange(k, key, end)).ToList();
                if (selected.Count == 0)
                {
                    continue; // an empty range: the set answers for the key alone, checked below
                }

                // Keys longer than three bytes lie in the range too; a grant must hold those as well, so brute force
                // over short keys can only say "no" for sure. It must never say "no" where Covers says "yes".
                var everyShortKey = selected.All(k => grants.Any(g => InRange(k, g.Key, g.End)));
                if (set.Covers(key, end))
                {
                    Assert.True(everyShortKey, $"covers [{Show(key)}, {Show(end)}) but a key in it is not granted by {string.Join(", ", grants.Select(g => $"[{Show(g.Key)}, {Show(g.End)})"))}");
                }
            }

            // A single key: exact agreement.
            foreach (var key in keys)
            {
                Assert.Equal(grants.Any(g => InRange(key, g.Key, g.End)), set.Covers(key, []));
            }
        }
    }

    private static (byte[] Key, byte[] End) RandomRange(Random random)
    {
        var key = RandomKey(random);
        return random.Next(4) switch
        {
            0 => (key, []),
            1 => (key, [0]),
            _ => (key, RandomKey(random)),
        };
    }

    private static byte[] RandomKey(Random random) => [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => Alphabet[random.Next(Alphabet.Length)])];

    private static bool InRange(byte[] k, byte[] key, byte[] end) =>
        end.Length == 0 ? k.AsSpan().SequenceEqual(key)
        : end is [0] ? k.AsSpan().SequenceCompareTo(key) >= 0
        : k.AsSpan().SequenceCompareTo(key) >= 0 && k.AsSpan().SequenceCompareTo(end) < 0;

    private static List<byte[]> AllKeys(int maxLength)
    {
        var keys = new List<byte[]>();
        void Grow(byte[] prefix)
        {
            if (prefix.Length > 0)
            {
                keys.Add(prefix);
            }

            if (prefix.Length < maxLength)
            {
                foreach (var b in Alphabet)
                {
                    Grow([.. prefix, b]);
                }
            }
        }

        Grow([]);
        return keys;
    }

    private static byte[] K(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    private static string Show(byte[] b) => b.Length == 0 ? "\"\"" : string.Concat(b.Select(static x => x == 0 ? "\\0" : ((char)x).ToString()));
}

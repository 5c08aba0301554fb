using System.Text;

namespace Conclave.Flags;

/// <summary>
/// The sticky bucket of a targeting key: 0..9,999, from 64-bit FNV-1a over the UTF-8 of <c>seed/key</c> finished with
/// SplitMix64's mixer (docs/feature-flags.md). Gray releases use the same function with <c>app/namespace</c> as the seed.
/// </summary>
public static class FlagBucket
{
    /// <summary>How many buckets there are: a percentage step is 0.01.</summary>
    public const int Count = 10_000;

    /// <summary>The bucket of <paramref name="key"/> under <paramref name="seed"/>.</summary>
    public static int Of(string seed, string key)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(key);
        const ulong offset = 14695981039346656037UL;
        var hash = offset;
        hash = Fnv(hash, seed);
        hash = Step(hash, (byte)'/');
        hash = Fnv(hash, key);

        // FNV's low bits are weak for short similar inputs: finish with SplitMix64's mixer.
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return (int)(hash % Count);
    }

    /// <summary>The number of buckets a percentage covers (0..100 in 0.01 steps).</summary>
    public static int Threshold(double percentage) => (int)Math.Round(Math.Clamp(percentage, 0, 100) * 100, MidpointRounding.AwayFromZero);

    private static ulong Fnv(ulong hash, string text)
    {
        // Short keys (the common case) are encoded on the stack; the hash is over the UTF-8 bytes either way.
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> buffer = max <= 512 ? stackalloc byte[max] : new byte[max];
        var length = Encoding.UTF8.GetBytes(text, buffer);
        foreach (var b in buffer[..length])
        {
            hash = Step(hash, b);
        }

        return hash;
    }

    private static ulong Step(ulong hash, byte b) => (hash ^ b) * 1099511628211UL;
}

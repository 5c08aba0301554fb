namespace Conclave.Testing.Linearizability;

/// <summary>Which operations are linearized so far: half of the search's memoization key, compared by content.</summary>
internal sealed class BitSet : IEquatable<BitSet>
{
    private readonly ulong[] words;

    public BitSet(int bits) => words = new ulong[(bits + 63) / 64];

    private BitSet(ulong[] words) => this.words = words;

    public void Set(int bit) => words[bit >> 6] |= 1UL << (bit & 63);

    public void Clear(int bit) => words[bit >> 6] &= ~(1UL << (bit & 63));

    public BitSet Clone() => new([.. words]);

    public bool Equals(BitSet? other) => other is not null && words.AsSpan().SequenceEqual(other.words);

    public override bool Equals(object? obj) => Equals(obj as BitSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var word in words)
        {
            hash.Add(word);
        }

        return hash.ToHashCode();
    }
}

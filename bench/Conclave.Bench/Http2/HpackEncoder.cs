namespace Conclave.Bench.Http2;

/// <summary>
/// The HPACK encodings this project writes (RFC 7541): integers with an N-bit prefix, and literal fields without
/// indexing and without Huffman, so a block needs no encoder state.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>Literal header field without indexing (§6.2.2), name by static index or, with index 0, literal.</summary>
    public static void AppendLiteral(List<byte> block, int nameIndex, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        AppendInteger(block, 0x00, 4, nameIndex);
        if (nameIndex == 0)
        {
            AppendString(block, name);
        }

        AppendString(block, value);
    }

    /// <summary>An integer with an N-bit prefix (§5.1); <paramref name="flags"/> fills the bits above it.</summary>
    public static void AppendInteger(List<byte> block, byte flags, int prefixBits, int value)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(flags | value));
            return;
        }

        block.Add((byte)(flags | max));
        value -= max;
        while (value >= 0x80)
        {
            block.Add((byte)((value & 0x7f) | 0x80));
            value >>= 7;
        }

        block.Add((byte)value);
    }

    /// <summary>A string literal (§5.2), not Huffman-coded.</summary>
    public static void AppendString(List<byte> block, ReadOnlySpan<byte> octets)
    {
        AppendInteger(block, 0x00, 7, octets.Length);
        block.AddRange(octets);
    }
}

namespace Conclave.Bench.Http2;

/// <summary>
/// Decodes HPACK's Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical (codes of one length are
/// consecutive, in symbol order, and shorter codes come first), so the per-symbol code lengths are the whole table:
/// a symbol is found by trying lengths 5..30 and checking whether the leading bits fall in that length's range.
/// </summary>
internal static class HuffmanDecoder
{
    public const int EndOfString = 256;

    /// <summary>Code length in bits of each symbol 0..255 and EOS (256), from RFC 7541 Appendix B.</summary>
    public static ReadOnlySpan<byte> CodeLengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,    ];

    private static readonly uint[] FirstCode = new uint[31];
    private static readonly uint[] CountOfLength = new uint[31];
    private static readonly int[] FirstIndex = new int[31];
    private static readonly short[] Symbols = new short[257];

    static HuffmanDecoder()
    {
        var lengths = CodeLengths.ToArray();
        var order = Enumerable.Range(0, 257).OrderBy(s => lengths[s]).ThenBy(s => s).ToArray();
        uint code = 0;
        var previous = lengths[order[0]];
        for (var i = 0; i < order.Length; i++)
        {
            var symbol = order[i];
            var length = lengths[symbol];
            if (i > 0)
            {
                code = (code + 1) << (length - previous);
            }

            if (CountOfLength[length] == 0)
            {
                FirstCode[length] = code;
                FirstIndex[length] = i;
            }

            CountOfLength[length]++;
            Symbols[i] = (short)symbol;
            previous = length;
        }
    }

    /// <summary>The code of <paramref name="symbol"/>, right-aligned; for encoders in tests.</summary>
    public static (uint Code, int Length) CodeOf(int symbol)
    {
        var length = CodeLengths[symbol];
        var index = Array.IndexOf(Symbols, (short)symbol);
        return (FirstCode[length] + (uint)(index - FirstIndex[length]), length);
    }

    /// <summary>Upper bound of the decoded length: the shortest code has 5 bits.</summary>
    public static int MaxDecodedLength(int encodedLength) => (encodedLength * 8 / 5) + 1;

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/> and returns the decoded length.</summary>
    /// <exception cref="HpackException">EOS inside the string, or padding longer than 7 bits or not all ones.</exception>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ulong bits = 0; // left-aligned: the next bit is bit 63
        var available = 0;
        var read = 0;
        var written = 0;
        while (true)
        {
            while (available <= 56 && read < source.Length)
            {
                bits |= (ulong)source[read++] << (56 - available);
                available += 8;
            }

            if (available == 0)
            {
                return written;
            }

            var symbol = -1;
            var length = 5;
            var longest = Math.Min(30, available);
            for (; length <= longest; length++)
            {
                var offset = (uint)(bits >> (64 - length)) - FirstCode[length];
                if (offset < CountOfLength[length])
                {
                    symbol = Symbols[FirstIndex[length] + (int)offset];
                    break;
                }
            }

            if (symbol < 0)
            {
                // Fewer bits than a whole code remain: they must be padding, the most significant bits of EOS.
                var padding = ~0UL << (64 - available);
                if (available > 7 || (bits & padding) != padding)
                {
                    throw new HpackException("Huffman string ends with invalid padding.");
                }

                return written;
            }

            if (symbol == EndOfString)
            {
                throw new HpackException("Huffman string contains EOS.");
            }

            destination[written++] = (byte)symbol;
            bits <<= length;
            available -= length;
        }
    }
}

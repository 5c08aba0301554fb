using System.Text;
using Conclave.Bench.Http2;

namespace Conclave.Bench.Tests.Http2;

/// <summary>
/// Builds header blocks the way servers do (indexed fields, literals with incremental indexing, Huffman strings),
/// so tests can feed the client's decoder what Kestrel and Go send. Tracks no table: the test says which index.
/// </summary>
internal sealed class TestHpackEncoder
{
    private readonly List<byte> _block = [];

    public byte[] ToArray() => [.. _block];

    public TestHpackEncoder Indexed(int index)
    {
        HpackEncoder.AppendInteger(_block, 0x80, 7, index);
        return this;
    }

    /// <summary>Literal with incremental indexing; <paramref name="nameIndex"/> 0 means a literal name.</summary>
    public TestHpackEncoder Incremental(int nameIndex, string? name, string value, bool huffman = true)
    {
        HpackEncoder.AppendInteger(_block, 0x40, 6, nameIndex);
        if (nameIndex == 0)
        {
            String(name!, huffman);
        }

        String(value, huffman);
        return this;
    }

    /// <summary>Literal never indexed with a literal name.</summary>
    public TestHpackEncoder NeverIndexed(string name, string value, bool huffman = true)
    {
        _block.Add(0x10);
        String(name, huffman);
        String(value, huffman);
        return this;
    }

    public TestHpackEncoder SizeUpdate(int size)
    {
        HpackEncoder.AppendInteger(_block, 0x20, 5, size);
        return this;
    }

    public static byte[] Huffman(string text)
    {
        var output = new List<byte>();
        ulong bits = 0;
        var count = 0;
        foreach (var b in Encoding.Latin1.GetBytes(text))
        {
            var (code, length) = HuffmanDecoder.CodeOf(b);
            bits = (bits << length) | code;
            count += length;
            while (count >= 8)
            {
                output.Add((byte)(bits >> (count - 8)));
                count -= 8;
            }
        }

        if (count > 0)
        {
            // Pad with the most significant bits of EOS (all ones).
            output.Add((byte)((bits << (8 - count)) | (0xffu >> count)));
        }

        return [.. output];
    }

    private void String(string text, bool huffman)
    {
        var bytes = huffman ? Huffman(text) : Encoding.Latin1.GetBytes(text);
        HpackEncoder.AppendInteger(_block, huffman ? (byte)0x80 : (byte)0x00, 7, bytes.Length);
        _block.AddRange(bytes);
    }
}

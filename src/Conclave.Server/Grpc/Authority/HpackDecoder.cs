using System.Text;

namespace Conclave.Server.Grpc.Authority;

/// <summary>One decoded header field; name and value are the octets the peer sent.</summary>
internal readonly record struct HeaderField(byte[] Name, byte[] Value)
{
    /// <summary>The size a field counts against a dynamic table (RFC 7541, 4.1).</summary>
    public int Size => Name.Length + Value.Length + 32;

    public override string ToString() => $"{Encoding.ASCII.GetString(Name)}: {Encoding.ASCII.GetString(Value)}";
}

/// <summary>A header block this decoder cannot read; the connection is broken (HPACK's COMPRESSION_ERROR).</summary>
internal sealed class HpackException(string message) : Exception(message);

/// <summary>
/// An HPACK decoder (RFC 7541) for one direction of one HTTP/2 connection: the static table, the peer's dynamic
/// table with its size limit, integers, literals and the Huffman code. Decoding a block updates the dynamic table,
/// so every block of the connection must pass through the same decoder, in order.
/// </summary>
internal sealed class HpackDecoder
{
    private static readonly HeaderField[] StaticTable = CreateStaticTable();
    private static readonly Dictionary<ulong, int> HuffmanSymbols = CreateHuffmanIndex();

    private readonly int maxTableSizeLimit;
    private readonly LinkedList<HeaderField> dynamicTable = new(); // newest first
    private int tableSize;
    private int maxTableSize;

    /// <param name="maxTableSizeLimit">The SETTINGS_HEADER_TABLE_SIZE the server advertised.</param>
    public HpackDecoder(int maxTableSizeLimit = 4096)
    {
        this.maxTableSizeLimit = maxTableSizeLimit;
        maxTableSize = maxTableSizeLimit;
    }

    /// <summary>Octets the dynamic table holds now (for tests).</summary>
    public int DynamicTableSize => tableSize;

    /// <summary>Decodes one complete header block.</summary>
    public List<HeaderField> Decode(ReadOnlySpan<byte> block)
    {
        var fields = new List<HeaderField>();
        var position = 0;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0x80) != 0)
            {
                // Indexed header field.
                fields.Add(Lookup(ReadInteger(block, ref position, 7)));
            }
            else if ((first & 0x40) != 0)
            {
                // Literal with incremental indexing.
                var field = ReadLiteral(block, ref position, 6);
                fields.Add(field);
                Add(field);
            }
            else if ((first & 0x20) != 0)
            {
                // Dynamic table size update.
                var size = ReadInteger(block, ref position, 5);
                if (size > (ulong)maxTableSizeLimit)
                {
                    throw new HpackException($"dynamic table size update to {size} exceeds the limit {maxTableSizeLimit}");
                }

                maxTableSize = (int)size;
                Evict();
            }
            else
            {
                // Literal without indexing (0000) or never indexed (0001).
                fields.Add(ReadLiteral(block, ref position, 4));
            }
        }

        return fields;
    }

    private HeaderField ReadLiteral(ReadOnlySpan<byte> block, ref int position, int prefix)
    {
        var index = ReadInteger(block, ref position, prefix);
        var name = index == 0 ? ReadString(block, ref position) : Lookup(index).Name;
        var value = ReadString(block, ref position);
        return new HeaderField(name, value);
    }

    private HeaderField Lookup(ulong index)
    {
        if (index == 0)
        {
            throw new HpackException("header index 0");
        }

        if (index <= (ulong)StaticTable.Length)
        {
            return StaticTable[index - 1];
        }

        var dynamicIndex = index - (ulong)StaticTable.Length - 1;
        if (dynamicIndex >= (ulong)dynamicTable.Count)
        {
            throw new HpackException($"header index {index} is beyond the dynamic table ({dynamicTable.Count} entries)");
        }

        var node = dynamicTable.First!;
        for (ulong i = 0; i < dynamicIndex; i++)
        {
            node = node.Next!;
        }

        return node.Value;
    }

    private void Add(HeaderField field)
    {
        if (field.Size > maxTableSize)
        {
            // RFC 7541, 4.4: an entry larger than the table empties it and is not added.
            dynamicTable.Clear();
            tableSize = 0;
            return;
        }

        dynamicTable.AddFirst(field);
        tableSize += field.Size;
        Evict();
    }

    private void Evict()
    {
        while (tableSize > maxTableSize && dynamicTable.Last is { } oldest)
        {
            tableSize -= oldest.Value.Size;
            dynamicTable.RemoveLast();
        }
    }

    private static ulong ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefix)
    {
        var mask = (1 << prefix) - 1;
        ulong value = (ulong)(block[position++] & mask);
        if (value < (ulong)mask)
        {
            return value;
        }

        var shift = 0;
        while (true)
        {
            if (position >= block.Length)
            {
                throw new HpackException("truncated integer");
            }

            if (shift > 56)
            {
                throw new HpackException("integer too large");
            }

            var b = block[position++];
            value += (ulong)(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private static byte[] ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        if (position >= block.Length)
        {
            throw new HpackException("truncated string");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > (ulong)(block.Length - position))
        {
            throw new HpackException("string longer than its header block");
        }

        var octets = block.Slice(position, (int)length);
        position += (int)length;
        return huffman ? DecodeHuffman(octets) : octets.ToArray();
    }

    /// <summary>Decodes a Huffman-coded string (RFC 7541, 5.2): at most 7 bits of padding, all ones.</summary>
    internal static byte[] DecodeHuffman(ReadOnlySpan<byte> octets)
    {
        var output = new List<byte>(octets.Length * 8 / 5);
        ulong code = 0;
        var bits = 0;
        foreach (var octet in octets)
        {
            for (var i = 7; i >= 0; i--)
            {
                code = (code << 1) | (uint)((octet >> i) & 1);
                bits++;
                if (bits >= 5 && HuffmanSymbols.TryGetValue(((ulong)bits << 32) | code, out var symbol))
                {
                    output.Add((byte)symbol);
                    code = 0;
                    bits = 0;
                }
                else if (bits > 30)
                {
                    throw new HpackException("invalid Huffman code");
                }
            }
        }

        if (bits > 7 || code != (1UL << bits) - 1)
        {
            throw new HpackException("invalid Huffman padding");
        }

        return [.. output];
    }

    private static Dictionary<ulong, int> CreateHuffmanIndex()
    {
        var index = new Dictionary<ulong, int>(256);
        for (var symbol = 0; symbol < 256; symbol++)
        {
            index.Add(((ulong)HuffmanTable.Lengths[symbol] << 32) | HuffmanTable.Codes[symbol], symbol);
        }

        return index;
    }

    private static HeaderField[] CreateStaticTable()
    {
        // RFC 7541, Appendix A.
        (string Name, string Value)[] entries =
        [
            (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
            (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
            (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
            ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
            ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
            ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
            ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
            ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
            ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
            ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
            ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
            ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
            ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
        ];
        return [.. entries.Select(e => new HeaderField(Encoding.ASCII.GetBytes(e.Name), Encoding.ASCII.GetBytes(e.Value)))];
    }
}

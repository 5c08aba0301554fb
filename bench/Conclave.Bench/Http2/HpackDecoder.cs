namespace Conclave.Bench.Http2;

/// <summary>
/// HPACK decoder (RFC 7541) for one connection's header blocks: static and dynamic table, Huffman strings, dynamic
/// table size updates, with <see cref="HpackLimits"/> checked while decoding. Every block the peer sends must pass
/// through here in order (even for streams nobody waits for any more), or the dynamic table falls out of step with
/// the peer's encoder.
/// </summary>
internal sealed class HpackDecoder
{
    /// <summary>Default SETTINGS_HEADER_TABLE_SIZE, the size this client advertises.</summary>
    public const int DefaultMaxTableSize = 4096;

    private readonly HpackDynamicTable _table;
    private readonly int _maxTableSize;
    private readonly HpackLimits _limits;
    private byte[] _nameScratch = new byte[256];
    private byte[] _valueScratch = new byte[1024];
    private int _fieldCount;
    private long _listSize;

    /// <param name="maxTableSize">The SETTINGS_HEADER_TABLE_SIZE this side advertised: the most a size update may ask for.</param>
    /// <param name="limits">What one block may decode to; <see cref="HpackLimits.Lenient"/> when omitted.</param>
    public HpackDecoder(int maxTableSize = DefaultMaxTableSize, HpackLimits? limits = null)
    {
        _maxTableSize = maxTableSize;
        _limits = limits ?? HpackLimits.Lenient;
        _table = new HpackDynamicTable(maxTableSize);
    }

    public HpackDynamicTable DynamicTable => _table;

    /// <summary>Decodes one complete header block (HEADERS plus any CONTINUATION fragments, concatenated).</summary>
    /// <param name="block">The header block.</param>
    /// <param name="sink">Receives each field in order; null to decode only for the table's sake.</param>
    /// <exception cref="HpackException">
    /// The block is malformed (the connection must close with COMPRESSION_ERROR), or passed a limit. The table may
    /// hold the entries inserted before that point: the connection cannot go on either way.
    /// </exception>
    public void Decode(ReadOnlySpan<byte> block, IHeaderSink? sink)
    {
        var position = 0;
        var fieldsSeen = false;
        _fieldCount = 0;
        _listSize = 0;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0x80) != 0)
            {
                // 6.1 Indexed header field.
                var index = ReadInteger(block, ref position, 7);
                var name = NameAt(index);
                var value = ValueAt(index);
                Count(name, value);
                sink?.OnHeader(name, value);
                fieldsSeen = true;
            }
            else if ((first & 0xc0) == 0x40)
            {
                // 6.2.1 Literal with incremental indexing.
                ReadLiteral(block, ref position, 6, out var name, out var value);
                Count(name, value);
                sink?.OnHeader(name, value);
                _table.Insert(name, value);
                fieldsSeen = true;
            }
            else if ((first & 0xe0) == 0x20)
            {
                // 6.3 Dynamic table size update: only at the start of a block (RFC 7541 §4.2).
                if (fieldsSeen)
                {
                    throw new HpackException("Dynamic table size update after a header field.");
                }

                var size = ReadInteger(block, ref position, 5);
                if (size > _maxTableSize)
                {
                    throw new HpackException($"Dynamic table size update to {size} exceeds the advertised {_maxTableSize}.");
                }

                _table.Resize(size);
            }
            else
            {
                // 6.2.2 Literal without indexing (0000xxxx), 6.2.3 never indexed (0001xxxx).
                ReadLiteral(block, ref position, 4, out var name, out var value);
                Count(name, value);
                sink?.OnHeader(name, value);
                fieldsSeen = true;
            }
        }
    }

    /// <summary>Counts a field against the block's limits before anyone sees it.</summary>
    private void Count(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (++_fieldCount > _limits.MaxFieldCount)
        {
            throw new HpackException($"Header block has more than {_limits.MaxFieldCount} fields.", limitExceeded: true);
        }

        _listSize += name.Length + value.Length;
        if (_listSize > _limits.MaxHeaderListSize)
        {
            throw new HpackException($"Header block decodes to more than {_limits.MaxHeaderListSize} bytes of names and values.", limitExceeded: true);
        }
    }

    /// <summary>Reads an integer with an N-bit prefix (RFC 7541 §5.1).</summary>
    internal static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var mask = (1 << prefixBits) - 1;
        var value = block[position++] & mask;
        if (value < mask)
        {
            return value;
        }

        for (var shift = 0; ; shift += 7)
        {
            if (position >= block.Length)
            {
                throw new HpackException("Header block ends inside an integer.");
            }

            if (shift > 21)
            {
                throw new HpackException("HPACK integer too large.");
            }

            var b = block[position++];
            value += (b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private void ReadLiteral(ReadOnlySpan<byte> block, ref int position, int prefixBits, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var index = ReadInteger(block, ref position, prefixBits);
        if (index == 0)
        {
            name = ReadString(block, ref position, ref _nameScratch);
            if (name.IsEmpty)
            {
                throw new HpackException("Empty header field name.");
            }
        }
        else
        {
            name = NameAt(index);
        }

        value = ReadString(block, ref position, ref _valueScratch);
    }

    /// <summary>Reads a string literal (RFC 7541 §5.2); Huffman strings are decoded into <paramref name="scratch"/>.</summary>
    private ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, ref int position, ref byte[] scratch)
    {
        if (position >= block.Length)
        {
            throw new HpackException("Header block ends before a string.");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > _limits.MaxStringLength)
        {
            throw new HpackException($"String of {length} bytes exceeds the limit of {_limits.MaxStringLength}.", limitExceeded: true);
        }

        if (length > block.Length - position)
        {
            throw new HpackException($"String of {length} bytes runs past the header block ({block.Length - position} bytes left).");
        }

        var raw = block.Slice(position, length);
        position += length;
        if (!huffman)
        {
            return raw;
        }

        // The scratch grows to at most 8/5 of the longest string allowed: never more than the limit asks for.
        var room = HuffmanDecoder.MaxDecodedLength(length);
        if (scratch.Length < room)
        {
            scratch = new byte[Math.Max(room, Math.Min(scratch.Length * 2, HuffmanDecoder.MaxDecodedLength(_limits.MaxStringLength)))];
        }

        var decoded = HuffmanDecoder.Decode(raw, scratch);
        if (decoded > _limits.MaxStringLength)
        {
            throw new HpackException($"String decodes to {decoded} bytes, over the limit of {_limits.MaxStringLength}.", limitExceeded: true);
        }

        return scratch.AsSpan(0, decoded);
    }

    private ReadOnlySpan<byte> NameAt(int index) => index switch
    {
        0 => throw new HpackException("Header index 0."),
        <= HpackStaticTable.Count => HpackStaticTable.Name(index),
        _ => _table.Name(index - HpackStaticTable.Count - 1),
    };

    private ReadOnlySpan<byte> ValueAt(int index) => index switch
    {
        0 => throw new HpackException("Header index 0."),
        <= HpackStaticTable.Count => HpackStaticTable.Value(index),
        _ => _table.Value(index - HpackStaticTable.Count - 1),
    };
}

using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

/// <summary>The examples of RFC 7541 Appendix C, decoded block by block with the dynamic table checked after each.</summary>
public sealed class HpackDecoderTests
{
    [Fact]
    public void C2_1_literal_with_indexing_enters_the_table()
    {
        var decoder = new HpackDecoder();
        var fields = Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");

        Assert.Equal([("custom-key", "custom-header")], fields);
        AssertTable(decoder, 55, ("custom-key", "custom-header"));
    }

    [Fact]
    public void C2_2_literal_without_indexing_leaves_the_table_empty()
    {
        var decoder = new HpackDecoder();
        var fields = Decode(decoder, "040c 2f73 616d 706c 652f 7061 7468");

        Assert.Equal([(":path", "/sample/path")], fields);
        AssertTable(decoder, 0);
    }

    [Fact]
    public void C2_3_never_indexed_literal_leaves_the_table_empty()
    {
        var decoder = new HpackDecoder();
        var fields = Decode(decoder, "1008 7061 7373 776f 7264 0673 6563 7265 74");

        Assert.Equal([("password", "secret")], fields);
        AssertTable(decoder, 0);
    }

    [Fact]
    public void C2_4_indexed_static_field()
    {
        var decoder = new HpackDecoder();
        Assert.Equal([(":method", "GET")], Decode(decoder, "82"));
        AssertTable(decoder, 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void C3_and_C4_requests_share_one_dynamic_table(bool huffman)
    {
        var decoder = new HpackDecoder();
        string[] blocks = huffman
            ? ["828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf", "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
            : ["828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865", "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"];

        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")], Decode(decoder, blocks[0]));
        AssertTable(decoder, 57, (":authority", "www.example.com"));

        Assert.Equal([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")], Decode(decoder, blocks[1]));
        AssertTable(decoder, 110, ("cache-control", "no-cache"), (":authority", "www.example.com"));

        Assert.Equal([(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")], Decode(decoder, blocks[2]));
        AssertTable(decoder, 164, ("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void C5_and_C6_responses_evict_from_a_256_byte_table(bool huffman)
    {
        var decoder = new HpackDecoder(maxTableSize: 256);
        string[] blocks = huffman
            ?
            [
                "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
                "4883640effc1c0bf",
                "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ]
            :
            [
                "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
                "4803333037c1c0bf",
                "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
            ];

        Assert.Equal([(":status", "302"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")], Decode(decoder, blocks[0]));
        AssertTable(decoder, 222, ("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private"), (":status", "302"));

        // ":status: 307" evicts ":status: 302".
        Assert.Equal([(":status", "307"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("location", "https://www.example.com")], Decode(decoder, blocks[1]));
        AssertTable(decoder, 222, (":status", "307"), ("location", "https://www.example.com"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT"), ("cache-control", "private"));

        Assert.Equal(
            [
                (":status", "200"), ("cache-control", "private"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"), ("location", "https://www.example.com"),
                ("content-encoding", "gzip"), ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
            ],
            Decode(decoder, blocks[2]));
        AssertTable(decoder, 215, ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"), ("content-encoding", "gzip"), ("date", "Mon, 21 Oct 2013 20:13:22 GMT"));
    }

    [Fact]
    public void Size_update_evicts_and_zero_empties_the_table()
    {
        var decoder = new HpackDecoder();
        Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");

        // 0x20 = size update to 0, then 0x3f e1 1f = size update to 4096 (31 + 4065), then ":method GET".
        Assert.Equal([(":method", "GET")], Decode(decoder, "20 3fe11f 82"));
        AssertTable(decoder, 0);
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
    }

    [Fact]
    public void An_entry_larger_than_the_table_empties_it()
    {
        var decoder = new HpackDecoder(maxTableSize: 64);
        decoder.Decode(new TestHpackEncoder().Incremental(0, "a", "b", huffman: false).ToArray(), null);
        Assert.Equal(1, decoder.DynamicTable.Count);

        var sink = new RecordingSink();
        decoder.Decode(new TestHpackEncoder().Incremental(0, "big", new string('x', 40), huffman: false).ToArray(), sink);

        Assert.Equal([("big", new string('x', 40))], sink.Fields);
        AssertTable(decoder, 0);
    }

    [Fact]
    public void Evictions_wrap_around_the_table_and_keep_its_order()
    {
        var decoder = new HpackDecoder(maxTableSize: 4096);
        for (var i = 0; i < 200; i++)
        {
            decoder.Decode(new TestHpackEncoder().Incremental(0, "k", i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture)).ToArray(), null);
        }

        // Entries of 1 + 3 + 32 = 36 bytes: 113 fit in 4096, so 000..086 were evicted. Index 62 is the newest.
        Assert.Equal(113, decoder.DynamicTable.Count);
        Assert.Equal([("k", "199"), ("k", "087")], Decode(decoder, Convert.ToHexString(new TestHpackEncoder().Indexed(62).Indexed(62 + 112).ToArray())));
    }

    [Theory]
    [InlineData("80", "index 0")]
    [InlineData("be", "beyond its 0 entries")] // index 62 with an empty dynamic table
    [InlineData("3fe21f", "exceeds the advertised")] // size update to 4097
    [InlineData("82 20", "after a header field")]
    [InlineData("ff", "ends inside an integer")]
    [InlineData("ffffffffff0f", "too large")]
    [InlineData("400a 6375", "runs past the header block")]
    [InlineData("04", "ends before a string")]
    public void Malformed_blocks_are_compression_errors(string hex, string message)
    {
        var e = Assert.Throws<HpackException>(() => new HpackDecoder().Decode(Hex.Bytes(hex), null));
        Assert.Contains(message, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_string_longer_than_the_limit_is_refused_before_it_is_read()
    {
        var decoder = new HpackDecoder(4096, new HpackLimits(MaxStringLength: 100, MaxHeaderListSize: 10_000, MaxFieldCount: 100));
        var block = new TestHpackEncoder().NeverIndexed("x", new string('v', 101), huffman: false).ToArray();

        var e = Assert.Throws<HpackException>(() => decoder.Decode(block[..8], null)); // the length is enough
        Assert.True(e.LimitExceeded);
        Assert.Contains("limit of 100", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huffman_string_that_decodes_past_the_limit_is_refused()
    {
        // 120 '0's take 75 bytes in Huffman code (5 bits each): within the limit encoded, past it decoded.
        var decoder = new HpackDecoder(4096, new HpackLimits(MaxStringLength: 100, MaxHeaderListSize: 10_000, MaxFieldCount: 100));
        var block = new TestHpackEncoder().NeverIndexed("x", new string('0', 120)).ToArray();

        var e = Assert.Throws<HpackException>(() => decoder.Decode(block, null));
        Assert.True(e.LimitExceeded);
    }

    [Fact]
    public void Decoding_stops_as_soon_as_the_fields_pass_the_header_list_limit()
    {
        // One 4 KB table entry, then 10,000 one-byte references to it: 40 MB if decoded to the end.
        var limits = new HpackLimits(MaxStringLength: 16384, MaxHeaderListSize: 65536, MaxFieldCount: 1_000_000);
        var decoder = new HpackDecoder(4096, limits);
        var block = new TestHpackEncoder().Incremental(0, "x", new string('b', 4000), huffman: false).ToArray().Concat(Enumerable.Repeat((byte)0xbe, 10_000)).ToArray();
        var sink = new RecordingSink();

        var e = Assert.Throws<HpackException>(() => decoder.Decode(block, sink));

        Assert.True(e.LimitExceeded);
        Assert.True(sink.Fields.Sum(f => f.Name.Length + f.Value.Length) <= limits.MaxHeaderListSize);
        Assert.Equal(65536 / 4001, sink.Fields.Count);
    }

    [Fact]
    public void Decoding_stops_at_the_field_count_limit()
    {
        var decoder = new HpackDecoder(4096, new HpackLimits(MaxStringLength: 16384, MaxHeaderListSize: 65536, MaxFieldCount: 10));
        var sink = new RecordingSink();

        var e = Assert.Throws<HpackException>(() => decoder.Decode(Enumerable.Repeat((byte)0x82, 11).ToArray(), sink));

        Assert.True(e.LimitExceeded);
        Assert.Equal(10, sink.Fields.Count);
    }

    [Fact]
    public void An_empty_literal_name_is_a_compression_error()
    {
        var e = Assert.Throws<HpackException>(() => new HpackDecoder().Decode([0x00, 0x00, 0x01, (byte)'v'], null));
        Assert.False(e.LimitExceeded);
    }

    private static List<(string Name, string Value)> Decode(HpackDecoder decoder, string hex)
    {
        var sink = new RecordingSink();
        decoder.Decode(Hex.Bytes(hex), sink);
        return sink.Fields;
    }

    private static void AssertTable(HpackDecoder decoder, int size, params (string Name, string Value)[] newestFirst)
    {
        var table = decoder.DynamicTable;
        Assert.Equal(size, table.Size);
        var actual = new List<(string, string)>();
        for (var i = 0; i < table.Count; i++)
        {
            actual.Add((System.Text.Encoding.Latin1.GetString(table.Name(i)), System.Text.Encoding.Latin1.GetString(table.Value(i))));
        }

        Assert.Equal(newestFirst.Select(e => (e.Name, e.Value)), actual);
    }
}

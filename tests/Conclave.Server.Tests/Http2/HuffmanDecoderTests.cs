using System.Text;
using Conclave.Server.Http2;

namespace Conclave.Server.Tests.Http2;

public sealed class HuffmanDecoderTests
{
    /// <summary>The Huffman strings of RFC 7541 Appendix C.4 and C.6.</summary>
    [Theory]
    [InlineData("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com")]
    [InlineData("a8eb10649cbf", "no-cache")]
    [InlineData("25a849e95ba97d7f", "custom-key")]
    [InlineData("25a849e95bb8e8b4bf", "custom-value")]
    [InlineData("6402", "302")]
    [InlineData("aec3771a4b", "private")]
    [InlineData("d07abe941054d444a8200595040b8166e082a62d1bff", "Mon, 21 Oct 2013 20:13:21 GMT")]
    [InlineData("9d29ad171863c78f0b97c8e9ae82ae43d3", "https://www.example.com")]
    [InlineData("640eff", "307")]
    [InlineData("9bd9ab", "gzip")]
    [InlineData("94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]
    [InlineData("", "")]
    public void Decodes_the_rfc_examples(string hex, string text) => Assert.Equal(text, Decode(Hex.Bytes(hex)));

    /// <summary>A few codes from RFC 7541 Appendix B, checking the table the decoder derives from code lengths.</summary>
    [Theory]
    [InlineData(0, 0x1ff8u, 13)]
    [InlineData('0', 0x0u, 5)]
    [InlineData('a', 0x3u, 5)]
    [InlineData(' ', 0x14u, 6)]
    [InlineData('~', 0x1ffdu, 13)]
    [InlineData(255, 0x3ffffeeu, 26)]
    [InlineData(HuffmanDecoder.EndOfString, 0x3fffffffu, 30)]
    public void Derives_the_codes_of_appendix_b(int symbol, uint code, int length) =>
        Assert.Equal((code, length), HuffmanDecoder.CodeOf(symbol));

    [Fact]
    public void Every_byte_value_round_trips()
    {
        var all = new byte[256 * 3];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = (byte)(i * 7);
        }

        var text = Encoding.Latin1.GetString(all);
        Assert.Equal(text, Decode(TestHpackEncoder.Huffman(text)));
    }

    [Theory]
    [InlineData("ff")] // eight bits of padding
    [InlineData("fe")] // no code, and not all ones
    [InlineData("1e")] // 'a' (00011) then padding 110
    public void Rejects_bad_padding(string hex)
    {
        var e = Assert.Throws<HpackException>(() => Decode(Hex.Bytes(hex)));
        Assert.Contains("padding", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_padding_of_up_to_seven_ones() => Assert.Equal("a", Decode(Hex.Bytes("1f")));

    [Fact]
    public void Rejects_eos_inside_a_string()
    {
        // 30 ones (EOS) followed by two ones of padding.
        var e = Assert.Throws<HpackException>(() => Decode(Hex.Bytes("ffffffff")));
        Assert.Contains("EOS", e.Message, StringComparison.Ordinal);
    }

    private static string Decode(byte[] encoded)
    {
        var output = new byte[HuffmanDecoder.MaxDecodedLength(encoded.Length)];
        return Encoding.Latin1.GetString(output, 0, HuffmanDecoder.Decode(encoded, output));
    }
}

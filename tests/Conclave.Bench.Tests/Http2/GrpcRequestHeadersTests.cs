using Conclave.Bench.Http2;
using Grpc.Core;

namespace Conclave.Bench.Tests.Http2;

public sealed class GrpcRequestHeadersTests
{
    [Fact]
    public void The_fixed_block_decodes_to_a_grpc_request_and_leaves_no_table_state()
    {
        var decoder = new HpackDecoder();
        var sink = new RecordingSink();
        decoder.Decode(GrpcRequestHeaders.Build("/etcdserverpb.KV/Put", "127.0.0.1:2379"), sink);

        Assert.Equal(
            [(":method", "POST"), (":scheme", "http"), (":path", "/etcdserverpb.KV/Put"), (":authority", "127.0.0.1:2379"), ("content-type", "application/grpc"), ("te", "trailers")],
            sink.Fields);
        Assert.Equal(0, decoder.DynamicTable.Count);
    }

    [Fact]
    public void Over_tls_the_scheme_is_https_and_a_token_rides_in_the_fixed_block()
    {
        var sink = new RecordingSink();
        new HpackDecoder().Decode(GrpcRequestHeaders.Build("/etcdserverpb.KV/Range", "127.0.0.1:2379", https: true, token: "bench.42"), sink);

        Assert.Equal(
            [(":method", "POST"), (":scheme", "https"), (":path", "/etcdserverpb.KV/Range"), (":authority", "127.0.0.1:2379"), ("content-type", "application/grpc"), ("te", "trailers"), ("token", "bench.42")],
            sink.Fields);
    }

    [Fact]
    public void Long_strings_use_multi_byte_lengths_and_extras_are_appended()
    {
        var path = "/" + new string('p', 300);
        var metadata = new Metadata { { "token", "abc" }, { "blob-bin", new byte[] { 1, 2, 3 } } };
        var block = GrpcRequestHeaders.WithExtras(GrpcRequestHeaders.Build(path, "h:1"), TimeSpan.FromSeconds(1.5), metadata);
        var sink = new RecordingSink();
        new HpackDecoder().Decode(block, sink);

        Assert.Equal((":path", path), sink.Fields[2]);
        Assert.Equal([("grpc-timeout", "1500m"), ("token", "abc"), ("blob-bin", "AQID")], sink.Fields[6..]);
    }

    [Theory]
    [InlineData(10, 5, "0a")]
    [InlineData(31, 5, "1f00")]
    [InlineData(1337, 5, "1f9a0a")] // RFC 7541 C.1.2
    [InlineData(42, 8, "2a")] // RFC 7541 C.1.3
    public void Integers_follow_rfc_7541_c1(int value, int prefixBits, string hex)
    {
        var block = new List<byte>();
        HpackEncoder.AppendInteger(block, 0, prefixBits, value);
        Assert.Equal(hex.ToUpperInvariant(), Convert.ToHexString([.. block]));
        var position = 0;
        Assert.Equal(value, HpackDecoder.ReadInteger([.. block], ref position, prefixBits));
    }
}

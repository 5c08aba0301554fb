using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Conclave.Server.Grpc.Authority;
using Conclave.Server.Http2;
using Conclave.Server.Tests.Http2;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Xunit;

namespace Conclave.Server.Tests.Compatibility;

/// <summary>
/// The gRPC listener's :authority repair (etcdctl 3.4 sends "http://host:port" on its per-endpoint dials): which
/// values are repaired and how, and the rewrite of a whole HTTP/2 byte stream as Kestrel's input loop reads it. The
/// HPACK decoder itself is tested against RFC 7541's examples in Cli.Tests (HpackDecoderTests, HuffmanDecoderTests);
/// the end-to-end check with the real etcdctl is <see cref="EtcdctlMaintenanceTests"/>.
/// </summary>
public sealed class AuthorityRewriteTests
{
    private static readonly HeaderBlockLimits Limits = HeaderBlockLimits.FromKestrel(new KestrelServerLimits(), TimeProvider.System);

    [Theory]
    [InlineData("127.0.0.1:2379", true)]
    [InlineData("localhost", true)]
    [InlineData("[::1]:2379", true)]
    [InlineData("", true)]
    [InlineData("http://127.0.0.1:2379", false)]
    [InlineData("#initially=[https://example.com:2379]", false)]
    [InlineData("host:", false)]
    [InlineData(":2379", false)]
    public void Knows_which_authorities_kestrel_accepts(string authority, bool valid)
    {
        Assert.Equal(valid, AuthorityRewriter.IsValid(Encoding.ASCII.GetBytes(authority)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:2379", "127.0.0.1:2379")]
    [InlineData("https://node-1.example:2379/", "node-1.example:2379")]
    [InlineData("unix://[::1]:2379", "[::1]:2379")]
    [InlineData("#initially=[https://example.com:2379]", null)]
    public void Repairs_a_url_to_its_host_and_port_or_drops_it(string authority, string? repaired)
    {
        var result = AuthorityRewriter.Repair(Encoding.ASCII.GetBytes(authority));
        Assert.Equal(repaired, result is null ? null : Encoding.ASCII.GetString(result));
    }

    [Theory]
    [InlineData(1, int.MaxValue)]
    [InlineData(7, 5)]
    [InlineData(4096, 3)]
    [InlineData(4096, int.MaxValue)]
    public async Task A_connection_with_a_url_authority_reaches_kestrel_with_every_header_block_repaired_and_other_frames_intact(int chunk, int take)
    {
        // What grpc-go sends: preface, SETTINGS, then requests whose later header blocks refer to the dynamic table
        // entries the first one created (the bad :authority among them), a padded HEADERS split over CONTINUATION,
        // and DATA in between.
        var first = Block(Literal(":authority", "http://127.0.0.1:2379", index: true), Literal(":path", "/etcdserverpb.Maintenance/Status", index: true), Literal("content-type", "application/grpc", index: true));
        var second = Block(Indexed(64), Indexed(63), Indexed(62)); // the same three, newest first
        var data = Frame(0x0, 0x1, 1, [0, 0, 0, 0, 0]);
        var input = Concat(
            FrameWriter.Preface.ToArray(),
            Frame(0x4, 0, 0, []),
            Frame((byte)FrameType.Headers, FrameFlags.EndHeaders, 1, first),
            data,
            Frame((byte)FrameType.Headers, FrameFlags.Padded, 3, [3, .. second[..2], 0, 0, 0]),
            Frame((byte)FrameType.Continuation, FrameFlags.EndHeaders, 3, second[2..]));

        var frames = await ReadThroughAsync(input, chunk, take);

        var kestrel = new HpackDecoder();
        Assert.Equal(4, frames.Count); // SETTINGS, HEADERS, DATA, HEADERS (continuation merged)
        Assert.Equal(0x4, frames[0].Type);
        foreach (var headers in new[] { frames[1], frames[3] })
        {
            Assert.Equal((byte)FrameType.Headers, headers.Type);
            var fields = new RecordingSink();
            kestrel.Decode(headers.Payload, fields);
            Assert.Equal(
                [(":authority", "127.0.0.1:2379"), (":path", "/etcdserverpb.Maintenance/Status"), ("content-type", "application/grpc")],
                fields.Fields);
        }

        Assert.Equal(0, kestrel.DynamicTable.Size);
        Assert.Equal(3, frames[3].StreamId);
        Assert.Equal(data, Frame(frames[2].Type, frames[2].Flags, frames[2].StreamId, frames[2].Payload));
    }

    [Fact]
    public async Task A_connection_with_a_valid_authority_is_passed_through_byte_for_byte()
    {
        var block = Block(Literal(":authority", "127.0.0.1:2379", index: true), Literal(":path", "/etcdserverpb.KV/Range", index: true));
        var input = Concat(
            FrameWriter.Preface.ToArray(),
            Frame(0x4, 0, 0, []),
            Frame((byte)FrameType.Headers, FrameFlags.EndHeaders, 1, block),
            Frame((byte)FrameType.Headers, FrameFlags.EndHeaders, 3, Block(Indexed(63), Indexed(62))));

        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(input);
        await pipe.Writer.CompleteAsync();
        var reader = new AuthorityNormalizingReader(pipe.Reader, Limits);
        var seen = await ReadAllAsync(reader);

        Assert.Equal(input, seen);
        Assert.False(reader.Rewriting);
    }

    private static async Task<List<(byte Type, byte Flags, int StreamId, byte[] Payload)>> ReadThroughAsync(byte[] input, int chunk, int take)
    {
        var pipe = new Pipe();
        var reader = new AuthorityNormalizingReader(pipe.Reader, Limits);
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < input.Length; i += chunk)
            {
                await pipe.Writer.WriteAsync(input.AsMemory(i, Math.Min(chunk, input.Length - i)));
            }

            await pipe.Writer.CompleteAsync();
        });
        var bytes = await ReadAllAsync(reader, take);
        await writing;
        Assert.True(reader.Rewriting);

        Assert.Equal(FrameWriter.Preface.ToArray(), bytes[..24]);
        var frames = new List<(byte, byte, int, byte[])>();
        for (var at = 24; at < bytes.Length;)
        {
            var length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
            frames.Add((bytes[at + 3], bytes[at + 4], (bytes[at + 5] << 24) | (bytes[at + 6] << 16) | (bytes[at + 7] << 8) | bytes[at + 8], bytes[(at + 9)..(at + 9 + length)]));
            at += 9 + length;
        }

        return frames;
    }

    /// <summary>
    /// Reads as Kestrel's HTTP/2 input copy loop does: copy and consume at most <paramref name="take"/> bytes, frame
    /// boundaries or not, then read again.
    /// </summary>
    private static async Task<byte[]> ReadAllAsync(PipeReader reader, int take = int.MaxValue)
    {
        var seen = new List<byte>();
        while (true)
        {
            var result = await reader.ReadAsync();
            var slice = result.Buffer.Slice(0, Math.Min(take, result.Buffer.Length));
            seen.AddRange(slice.ToArray());
            reader.AdvanceTo(slice.End);
            if (result.IsCompleted && slice.Length == result.Buffer.Length)
            {
                return [.. seen];
            }
        }
    }

    private static byte[] Block(params byte[][] fields) => Concat(fields);

    private static byte[] Indexed(int index) => [(byte)(0x80 | index)];

    private static byte[] Literal(string name, string value, bool index)
    {
        var n = Encoding.ASCII.GetBytes(name);
        var v = Encoding.ASCII.GetBytes(value);
        return [index ? (byte)0x40 : (byte)0x00, (byte)n.Length, .. n, (byte)v.Length, .. v];
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload) =>
        [(byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length, type, flags, (byte)(streamId >> 24), (byte)(streamId >> 16), (byte)(streamId >> 8), (byte)streamId, .. payload];

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}

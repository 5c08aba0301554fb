using System.Buffers;
using System.IO.Pipelines;
using Conclave.Server.Grpc.Authority;
using Conclave.Server.Http2;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// The bounds of the :authority pre-parser, read the way Kestrel's input loop reads it: what happens to a header
/// block that is too large, decodes past Kestrel's limits or never finishes, before and after the connection is
/// decided. The rewrite itself is tested in <c>Compatibility.AuthorityRewriteTests</c>.
/// </summary>
public sealed class AuthorityNormalizingReaderTests
{
    private const string Url = "http://127.0.0.1:2379";
    private const string Host = "127.0.0.1:2379";

    private static readonly byte[] Opening = [.. FrameWriter.Preface, .. RawHttp2Connection.Frame(FrameType.Settings, 0, 0, [])];

    private readonly ManualClock clock = new();
    private readonly HeaderBlockLimits limits;

    public AuthorityNormalizingReaderTests()
    {
        limits = HeaderBlockLimits.FromKestrel(new KestrelServerLimits(), clock);
    }

    [Fact]
    public async Task An_unfinished_first_header_block_ends_the_input_when_the_request_headers_timeout_passes()
    {
        var pipe = new Pipe();
        var reader = new AuthorityNormalizingReader(pipe.Reader, limits);
        await pipe.Writer.WriteAsync(Concat(Opening, RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(Url)], endHeaders: false)));

        Assert.Equal(Opening, await ReadAsync(reader)); // the handshake goes on while the block is awaited
        var pending = reader.ReadAsync().AsTask();
        clock.Advance(limits.HeaderBlockTimeout - TimeSpan.FromMilliseconds(1));
        Assert.False(pending.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        var result = await pending.WaitAsync(Eventually.DefaultTimeout);
        Assert.True(result.IsCompleted);
        Assert.True(result.Buffer.IsEmpty);
    }

    [Fact]
    public async Task A_header_block_finished_in_time_is_not_affected_by_its_deadline()
    {
        var pipe = new Pipe();
        var reader = new AuthorityNormalizingReader(pipe.Reader, limits);
        var frames = RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(Host)], frameSize: 16);
        await pipe.Writer.WriteAsync(Concat(Opening, frames[..40]));
        Assert.Equal(Opening, await ReadAsync(reader));
        var pending = reader.ReadAsync().AsTask();

        clock.Advance(limits.HeaderBlockTimeout / 2);
        await pipe.Writer.WriteAsync(frames.AsMemory(40));
        var result = await pending.WaitAsync(Eventually.DefaultTimeout);
        clock.Advance(limits.HeaderBlockTimeout);

        Assert.Equal(frames, result.Buffer.ToArray());
        Assert.False(result.IsCompleted);
        Assert.False(reader.Rewriting);
    }

    [Fact]
    public async Task An_unfinished_header_block_on_a_repaired_connection_ends_the_input_at_its_deadline()
    {
        var pipe = new Pipe();
        var reader = new AuthorityNormalizingReader(pipe.Reader, limits);
        await pipe.Writer.WriteAsync(Concat(
            Opening,
            RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(Url)], endStream: true),
            RawHttp2Connection.HeaderFrames(3, [.. RequestBlocks.Request(Url)], endHeaders: false)));
        await ReadAsync(reader);
        Assert.True(reader.Rewriting);

        var pending = ReadToEndAsync(reader);
        clock.Advance(limits.HeaderBlockTimeout);
        await pending.WaitAsync(Eventually.DefaultTimeout);
    }

    [Fact]
    public async Task A_first_header_block_larger_than_the_inspection_limit_reaches_kestrel_unread()
    {
        // Too large to inspect, so not repaired either: Kestrel reads the client's own bytes and applies its own
        // limits (this one decodes to 17 KB, which it serves).
        var input = Concat(Opening, RawHttp2Connection.HeaderFrames(1, RequestBlocks.Padded(Url, limits.FirstBlockBytes + 1)));

        var (seen, rewriting) = await ReadAllAsync(input, clientCloses: true);

        Assert.Equal(input, seen);
        Assert.False(rewriting);
    }

    [Fact]
    public async Task A_first_header_block_that_decodes_past_kestrels_limits_reaches_kestrel_unread()
    {
        // 12 KB of references to a 4 KB table entry: the decoder stops after 16 of them. Kestrel, decoding the same
        // bytes with the same fresh table and limits, ends the connection with PROTOCOL_ERROR.
        var input = Concat(Opening, RawHttp2Connection.HeaderFrames(1, RequestBlocks.Bomb(Url, 12_000)));

        var (seen, rewriting) = await ReadAllAsync(input, clientCloses: true);

        Assert.Equal(input, seen);
        Assert.False(rewriting);
    }

    [Fact]
    public async Task A_header_block_past_the_limits_on_a_repaired_connection_reaches_kestrel_as_sent_and_ends_the_input()
    {
        var first = RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(Url)], endStream: true);
        var bomb = RawHttp2Connection.HeaderFrames(3, RequestBlocks.Bomb(Url, 12_000));
        var after = RawHttp2Connection.Frame(FrameType.Ping, 0, 0, new byte[8]);

        var (seen, rewriting) = await ReadAllAsync(Concat(Opening, first, bomb, after));

        Assert.True(rewriting);
        Assert.EndsWith(Convert.ToHexString(bomb), Convert.ToHexString(seen), StringComparison.Ordinal); // nothing after it
        Assert.DoesNotContain(Convert.ToHexString(after), Convert.ToHexString(seen), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_frame_larger_than_the_maximum_frame_size_on_a_repaired_connection_is_not_waited_for()
    {
        var first = RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(Url)], endStream: true);
        var huge = new byte[FrameHeader.Size];
        FrameHeader.Write(huge, limits.MaxFrameSize + 1, FrameType.Data, 0, 1);

        var (seen, _) = await ReadAllAsync(Concat(Opening, first, huge));

        Assert.EndsWith(Convert.ToHexString(huge), Convert.ToHexString(seen), StringComparison.Ordinal); // Kestrel refuses it by its header
    }

    /// <summary>
    /// Writes <paramref name="input"/> and reads until the input ends: the client's end when
    /// <paramref name="clientCloses"/>, else the one the reader makes.
    /// </summary>
    private async Task<(byte[] Seen, bool Rewriting)> ReadAllAsync(byte[] input, bool clientCloses = false)
    {
        var pipe = new Pipe();
        var reader = new AuthorityNormalizingReader(pipe.Reader, limits);
        await pipe.Writer.WriteAsync(input);
        if (clientCloses)
        {
            await pipe.Writer.CompleteAsync();
        }

        var seen = await ReadToEndAsync(reader).WaitAsync(Eventually.DefaultTimeout);
        return (seen, reader.Rewriting);
    }

    private static async Task<byte[]> ReadAsync(PipeReader reader)
    {
        var result = await reader.ReadAsync().AsTask().WaitAsync(Eventually.DefaultTimeout);
        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        var seen = new List<byte>();
        while (true)
        {
            var result = await reader.ReadAsync();
            seen.AddRange(result.Buffer.ToArray());
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return [.. seen];
            }
        }
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}

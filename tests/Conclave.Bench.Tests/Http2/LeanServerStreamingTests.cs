using System.Buffers.Binary;
using Conclave.Api.Etcd;
using Conclave.Bench.Http2;
using Google.Protobuf;
using Grpc.Core;
using static Conclave.Bench.Tests.Http2.ScriptedConnection;

namespace Conclave.Bench.Tests.Http2;

/// <summary>Server-streaming calls on the lean client (etcd's Maintenance.Snapshot here) against a scripted server.</summary>
public sealed class LeanServerStreamingTests : ScriptedClientTest
{
    private readonly Maintenance.MaintenanceClient _maintenance;

    public LeanServerStreamingTests() => _maintenance = new Maintenance.MaintenanceClient(Invoker);

    [Fact]
    public async Task Reads_messages_packed_in_one_frame_and_split_anywhere_then_the_status()
    {
        using var call = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        var request = await connection.ReadRequestAsync();
        Assert.Equal("/etcdserverpb.Maintenance/Snapshot", request.Header(":path"));

        // Four messages: two whole ones in one frame with the first 3 bytes of a third (its prefix cut in two), the
        // third's rest with an empty message, and a fourth over three frames (one byte of its body alone).
        var one = GrpcMessage(Chunk(2, "one"));
        var two = GrpcMessage(Chunk(1, "two"));
        var three = GrpcMessage(Chunk(0, new string('x', 300)));
        var empty = GrpcMessage(new SnapshotResponse());
        var four = GrpcMessage(Chunk(0, "four"));
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).NeverIndexed("content-type", "application/grpc").ToArray()),
            Frame(FrameType.Data, 0, 1, [.. one, .. two, .. three[..3]]),
            Frame(FrameType.Data, 0, 1, [.. three[3..], .. empty]),
            Frame(FrameType.Data, 0, 1, four[..6]),
            Frame(FrameType.Data, 0, 1, four[6..7]),
            Frame(FrameType.Data, 0, 1, four[7..]));

        var read = new List<SnapshotResponse>();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            read.Add(call.ResponseStream.Current);
        }

        Assert.Equal(["one", "two", new string('x', 300), "", "four"], read.Select(r => r.Blob.ToStringUtf8()));
        Assert.Equal([2UL, 1UL, 0UL, 0UL, 0UL], read.Select(r => r.RemainingBytes));

        // Nothing more until the trailers; then the end, and the status is OK.
        var end = call.ResponseStream.MoveNext(CancellationToken.None);
        Assert.False(end.IsCompleted);
        await connection.SendAsync(Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));
        Assert.False(await end);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Messages_cut_into_frames_at_random_places_read_back_whole_and_in_order(int seed)
    {
        // The framing is a hand-written parser of the server's bytes: any cut of the same byte stream into DATA frames
        // (a prefix split, a message over many frames, many messages in one, empty messages, empty frames) reads the
        // same messages back.
        var random = new Random(seed);
        var sent = Enumerable.Range(0, 200).Select(i => Chunk((ulong)i, new string((char)('a' + (i % 26)), random.Next(4) == 0 ? 0 : random.Next(1, 3_000)))).ToList();
        var bytes = sent.SelectMany(m => GrpcMessage(m)).ToArray();
        using var call = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        var frames = new List<byte[]> { Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).ToArray()) };
        for (var at = 0; at < bytes.Length;)
        {
            var n = random.Next(3) switch { 0 => random.Next(0, 8), 1 => random.Next(8, 600), _ => random.Next(600, 16_384) };
            n = Math.Min(n, bytes.Length - at);
            frames.Add(Frame(FrameType.Data, 0, 1, bytes[at..(at + n)]));
            at += n;
        }

        frames.Add(Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));
        var sending = connection.SendAsync([.. frames]);

        // With a deadline: a parser that lost its place would wait for bytes that never come.
        var read = new List<SnapshotResponse>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)))
        {
            read.Add(call.ResponseStream.Current);
        }

        await sending.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(sent, read);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Many_messages_keep_the_stream_window_open()
    {
        // More than the client's 16 MiB receive window, in 16 KiB frames: without WINDOW_UPDATEs for the stream a
        // server could not send them all (the scripted one does not enforce it: the test looks for the updates).
        using var call = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        await connection.SendAsync(Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).ToArray()));
        var message = GrpcMessage(Chunk(0, new string('y', 16_384 - 5 - 10)));
        Assert.True(message.Length <= 16_384);
        const int Count = 1_200;
        var reading = Task.Run(async () =>
        {
            var n = 0;
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                n++;
            }

            return n;
        });
        for (var i = 0; i < Count; i++)
        {
            await connection.SendAsync(Frame(FrameType.Data, 0, 1, message));
        }

        await connection.SendAsync(Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));
        Assert.Equal(Count, await reading);
        for (var updates = 0; updates < 2; updates++)
        {
            var update = await connection.ReadUntilAsync(static h => h.Type == FrameType.WindowUpdate && h.StreamId == 1).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.InRange(BinaryPrimitives.ReadInt32BigEndian(update.Payload), 8 * 1024 * 1024, 9 * 1024 * 1024);
        }
    }

    [Fact]
    public async Task An_error_status_is_thrown_after_the_messages_before_it_are_read()
    {
        using var call = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).ToArray()),
            Frame(FrameType.Data, 0, 1, GrpcMessage(Chunk(1, "a"))),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "14").NeverIndexed("grpc-message", "leader%20changed").ToArray()));

        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal("a", call.ResponseStream.Current.Blob.ToStringUtf8());
        var failed = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal((StatusCode.Unavailable, "leader changed"), (failed.StatusCode, failed.Status.Detail));
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_message_or_declares_a_huge_one_fails()
    {
        using var cut = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        using var huge = _maintenance.Snapshot(new SnapshotRequest());
        await connection.ReadRequestAsync();
        var message = GrpcMessage(Chunk(0, "abcdef"));
        var prefix = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(prefix.AsSpan(1), 64 * 1024 * 1024);
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).ToArray()),
            Frame(FrameType.Data, 0, 1, message[..^2]),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()),
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 3, new TestHpackEncoder().Indexed(8).ToArray()),
            Frame(FrameType.Data, 0, 3, [.. prefix[..2]]),
            Frame(FrameType.Data, 0, 3, [.. prefix[2..], 1, 2, 3]),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 3, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));

        var ended = await Assert.ThrowsAsync<RpcException>(() => cut.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal((StatusCode.Internal, "The stream ended inside a message."), (ended.StatusCode, ended.Status.Detail));
        var tooBig = await Assert.ThrowsAsync<RpcException>(() => huge.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Internal, tooBig.StatusCode);
        Assert.Contains("exceeds the maximum", tooBig.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_a_read_or_disposing_the_call_resets_the_stream()
    {
        using var read = _maintenance.Snapshot(new SnapshotRequest());
        using var connection = await Server.AcceptAsync();
        Assert.Equal(1, (await connection.ReadRequestAsync()).StreamId);
        var disposed = _maintenance.Snapshot(new SnapshotRequest());
        Assert.Equal(3, (await connection.ReadRequestAsync()).StreamId);

        using var cancel = new CancellationTokenSource();
        var waiting = read.ResponseStream.MoveNext(cancel.Token);
        Assert.False(waiting.IsCompleted);
        await cancel.CancelAsync();
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => waiting)).StatusCode);
        var reset = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.RstStream, 1, (uint)Http2ErrorCode.Cancel), (reset.Header.Type, reset.Header.StreamId, BinaryPrimitives.ReadUInt32BigEndian(reset.Payload)));

        disposed.Dispose();
        reset = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.RstStream, 3), (reset.Header.Type, reset.Header.StreamId));
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => disposed.ResponseStream.MoveNext(CancellationToken.None))).StatusCode);
    }

    [Fact]
    public async Task A_unary_call_answered_with_two_messages_fails()
    {
        var kv = new KV.KVClient(Invoker);
        var call = kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }).ResponseAsync;
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        var message = GrpcMessage(new RangeResponse { Count = 1 });
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, new TestHpackEncoder().Indexed(8).ToArray()),
            Frame(FrameType.Data, 0, 1, [.. message, .. message]),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()));

        var failed = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal((StatusCode.Internal, "More than one response message for a unary call."), (failed.StatusCode, failed.Status.Detail));
    }

    private static SnapshotResponse Chunk(ulong remaining, string blob) => new() { RemainingBytes = remaining, Blob = ByteString.CopyFromUtf8(blob) };
}

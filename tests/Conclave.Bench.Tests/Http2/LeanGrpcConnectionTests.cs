using System.Buffers.Binary;
using Conclave.Api.Etcd;
using Conclave.Bench.Http2;
using Google.Protobuf;
using Grpc.Core;
using static Conclave.Bench.Tests.Http2.ScriptedConnection;

namespace Conclave.Bench.Tests.Http2;

/// <summary>The lean client against a scripted server that sends what Kestrel and Go may send.</summary>
public sealed class LeanGrpcConnectionTests : ScriptedClientTest
{
    private readonly KV.KVClient _kv;

    public LeanGrpcConnectionTests() => _kv = new KV.KVClient(Invoker);

    [Fact]
    public async Task Decodes_huffman_and_dynamic_table_headers_over_continuation_and_split_padded_data()
    {
        var first = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }).ResponseAsync;
        using var connection = await Server.AcceptAsync((3, 100));

        var request = await connection.ReadRequestAsync();
        Assert.Equal(1, request.StreamId);
        Assert.Equal("POST", request.Header(":method"));
        Assert.Equal("/etcdserverpb.KV/Range", request.Header(":path"));
        Assert.Equal(Server.Endpoint, request.Header(":authority"));
        Assert.Equal("application/grpc", request.Header("content-type"));
        Assert.Equal("trailers", request.Header("te"));
        Assert.Equal("a", RangeRequest.Parser.ParseFrom(request.Message()).Key.ToStringUtf8());

        // :status 200 (static), content-type and server with incremental indexing (Huffman), split over two frames.
        var headers = new TestHpackEncoder().Indexed(8).Incremental(31, null, "application/grpc").Incremental(0, "server", "scripted").ToArray();
        var message = GrpcMessage(Response("a", "1"));
        var padded = new byte[1 + 3 + 4];
        padded[0] = 4;
        message.AsSpan(0, 3).CopyTo(padded.AsSpan(1));
        await connection.SendAsync(
            Frame(FrameType.Ping, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8),
            Frame(FrameType.Headers, 0, 1, headers[..5]),
            Frame(FrameType.Continuation, FrameFlags.EndHeaders, 1, headers[5..]),
            Frame(FrameType.Data, FrameFlags.Padded, 1, padded),
            Frame(FrameType.Data, 0, 1, message[3..]),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 1, new TestHpackEncoder().Incremental(0, "grpc-status", "0").ToArray()));
        Assert.Equal("1", (await first).Kvs[0].Value.ToStringUtf8());

        // The second response only refers to the dynamic table: grpc-status 62, server 63, content-type 64.
        var second = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("b") }).ResponseAsync;
        request = await connection.ReadRequestAsync();
        Assert.Equal(3, request.StreamId);
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 3, new TestHpackEncoder().Indexed(8).Indexed(64).Indexed(63).ToArray()),
            Frame(FrameType.Data, 0, 3, GrpcMessage(Response("b", "2"))),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 3, new TestHpackEncoder().Indexed(62).ToArray()));
        Assert.Equal("2", (await second).Kvs[0].Value.ToStringUtf8());

        // The client acknowledged the server's SETTINGS and PING.
        // (ReadRequestAsync passed over them, keeping them in Seen.)
        var ping = Assert.Single(connection.Seen, f => f.Header.Type == FrameType.Ping);
        Assert.True(ping.Header.Has(FrameFlags.Ack));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, ping.Payload);
        Assert.Contains(connection.Seen, f => f.Header.Type == FrameType.Settings && f.Header.Has(FrameFlags.Ack));
        var settings = connection.Seen.First(f => f.Header.Type == FrameType.Settings && !f.Header.Has(FrameFlags.Ack));
        Assert.Equal(Hex.Bytes("0002 00000000 0004 01000000"), settings.Payload);
    }

    [Fact]
    public async Task Statuses_resets_and_http_errors_become_rpc_exceptions()
    {
        var calls = new[] { "a", "b", "c", "d" }.ToDictionary(k => k, k => _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(k) }).ResponseAsync);
        using var connection = await Server.AcceptAsync();
        var streams = new Dictionary<string, int>();
        for (var i = 0; i < calls.Count; i++)
        {
            var request = await connection.ReadRequestAsync();
            streams[RangeRequest.Parser.ParseFrom(request.Message()).Key.ToStringUtf8()] = request.StreamId;
        }

        await connection.SendAsync(
            // Trailers-only, with a percent-encoded UTF-8 message.
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streams["a"], new TestHpackEncoder().Indexed(8).Incremental(0, "grpc-status", "5").NeverIndexed("grpc-message", "key%20not%20found%3A%20%E2%9C%93").ToArray()),
            Frame(FrameType.RstStream, 0, streams["b"], 0, 0, 0, (byte)Http2ErrorCode.RefusedStream),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streams["c"], new TestHpackEncoder().Indexed(13).ToArray()),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streams["d"], new TestHpackEncoder().Indexed(8).NeverIndexed("grpc-status", "0").ToArray()));

        var notFound = await Assert.ThrowsAsync<RpcException>(() => calls["a"]);
        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);
        Assert.Equal("key not found: \u2713", notFound.Status.Detail);
        Assert.Equal(StatusCode.Unavailable, (await Assert.ThrowsAsync<RpcException>(() => calls["b"])).StatusCode);
        Assert.Equal(StatusCode.Unimplemented, (await Assert.ThrowsAsync<RpcException>(() => calls["c"])).StatusCode);
        var noMessage = await Assert.ThrowsAsync<RpcException>(() => calls["d"]);
        Assert.Equal(StatusCode.Internal, noMessage.StatusCode);
    }

    [Fact]
    public async Task Waits_for_a_stream_slot_and_for_send_window()
    {
        var value = ByteString.CopyFrom(new byte[30]);
        var first = _kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("a"), Value = value }).ResponseAsync;
        using var connection = await Server.AcceptAsync((3, 1), (4, 10));
        var headers = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.Headers, 1), (headers.Header.Type, headers.Header.StreamId));
        var second = _kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("b"), Value = value }).ResponseAsync;

        // Stream 1 sends 10 bytes (its window) and stream 3 waits for a slot: the next frame is stream 1's DATA.
        var data = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.Data, 1, 10, false), (data.Header.Type, data.Header.StreamId, data.Header.Length, data.Header.Has(FrameFlags.EndStream)));

        await connection.SendAsync(Frame(FrameType.WindowUpdate, 0, 1, 0, 0, 1, 0));
        var rest = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.Data, 1, true), (rest.Header.Type, rest.Header.StreamId, rest.Header.Has(FrameFlags.EndStream)));
        Assert.Equal("a", PutRequest.Parser.ParseFrom([.. data.Payload.Concat(rest.Payload).Skip(5)]).Key.ToStringUtf8());

        await connection.SendAsync(SuccessFrames(1, new PutResponse()));
        await first;

        // Only now does stream 3 open.
        var third = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.Headers, 3), (third.Header.Type, third.Header.StreamId));
        await connection.SendAsync(Frame(FrameType.WindowUpdate, 0, 3, 0, 0, 1, 0));
        await connection.SendAsync(SuccessFrames(3, new PutResponse()));
        await second;
    }

    [Fact]
    public async Task Deadline_and_cancellation_reset_the_stream()
    {
        // The connection first: the deadline runs from the call's start, and on a loaded machine 300 ms can pass while
        // the connection is still being set up, so the call would fail before its request is written.
        var warm = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("w") }).ResponseAsync;
        using var connection = await Server.AcceptAsync();
        Assert.Equal(1, (await connection.ReadRequestAsync()).StreamId);
        await connection.SendAsync(SuccessFrames(1, new RangeResponse()));
        await warm;

        var late = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }, deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync;
        Assert.EndsWith("m", (await connection.ReadRequestAsync()).Header("grpc-timeout"), StringComparison.Ordinal);
        Assert.Equal(StatusCode.DeadlineExceeded, (await Assert.ThrowsAsync<RpcException>(() => late)).StatusCode);
        var reset = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.RstStream, 3, (uint)Http2ErrorCode.Cancel), (reset.Header.Type, reset.Header.StreamId, BinaryPrimitives.ReadUInt32BigEndian(reset.Payload)));

        using var cancel = new CancellationTokenSource();
        var canceled = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("b") }, cancellationToken: cancel.Token).ResponseAsync;
        Assert.DoesNotContain((await connection.ReadRequestAsync()).Headers, h => h.Name == "grpc-timeout");
        await cancel.CancelAsync();
        Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => canceled)).StatusCode);
        reset = await connection.ReadStreamFrameAsync();
        Assert.Equal((FrameType.RstStream, 5), (reset.Header.Type, reset.Header.StreamId));

        // A late answer for a reset stream is ignored, and its header block still updates the table.
        await connection.SendAsync(Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 5, new TestHpackEncoder().Indexed(8).Incremental(0, "grpc-status", "0").ToArray()));
        var next = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("c") }).ResponseAsync;
        Assert.Equal(7, (await connection.ReadRequestAsync()).StreamId);
        await connection.SendAsync(
            Frame(FrameType.Headers, FrameFlags.EndHeaders, 7, new TestHpackEncoder().Indexed(8).ToArray()),
            Frame(FrameType.Data, 0, 7, GrpcMessage(Response("c", "3"))),
            Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 7, new TestHpackEncoder().Indexed(62).ToArray()));
        Assert.Equal("3", (await next).Kvs[0].Value.ToStringUtf8());
    }

    [Fact]
    public async Task Goaway_fails_unprocessed_streams_and_the_next_call_dials_again()
    {
        var processed = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }).ResponseAsync;
        using (var connection = await Server.AcceptAsync())
        {
            Assert.Equal(1, (await connection.ReadRequestAsync()).StreamId);
            var unprocessed = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("b") }).ResponseAsync;
            Assert.Equal(3, (await connection.ReadRequestAsync()).StreamId);
            await connection.SendAsync(Frame(FrameType.GoAway, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0));
            var refused = await Assert.ThrowsAsync<RpcException>(() => unprocessed);
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.Contains("GOAWAY", refused.Status.Detail, StringComparison.Ordinal);

            await connection.SendAsync(SuccessFrames(1, Response("a", "1")));
            Assert.Equal("1", (await processed).Kvs[0].Value.ToStringUtf8());
        }

        var again = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("c") }).ResponseAsync;
        using var second = await Server.AcceptAsync();
        var request = await second.ReadRequestAsync();
        Assert.Equal(1, request.StreamId);
        await second.SendAsync(SuccessFrames(1, Response("c", "3")));
        Assert.Equal("3", (await again).Kvs[0].Value.ToStringUtf8());
    }

    [Fact]
    public async Task A_frame_inside_a_header_block_is_a_protocol_error()
    {
        var call = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }).ResponseAsync;
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        await connection.SendAsync(
            Frame(FrameType.Headers, 0, 1, 0x88),
            Frame(FrameType.Ping, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8));

        Assert.Equal(StatusCode.Internal, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
        var goAway = await connection.ReadUntilAsync(static h => h.Type == FrameType.GoAway);
        Assert.Equal((uint)Http2ErrorCode.ProtocolError, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
    }

    [Fact]
    public async Task A_malformed_header_block_fails_the_calls_and_sends_goaway()
    {
        var call = _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("a") }).ResponseAsync;
        using var connection = await Server.AcceptAsync();
        await connection.ReadRequestAsync();
        await connection.SendAsync(Frame(FrameType.Headers, FrameFlags.EndHeaders, 1, 0x80));

        var failed = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.Internal, failed.StatusCode);
        var goAway = await connection.ReadUntilAsync(static h => h.Type == FrameType.GoAway);
        Assert.Equal((uint)Http2ErrorCode.CompressionError, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
    }

    private static RangeResponse Response(string key, string value) => new()
    {
        Header = new ResponseHeader { Revision = 7 },
        Count = 1,
        Kvs = { new Conclave.Api.Mvcc.KeyValue { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } },
    };

    /// <summary>200 + content-type, the message, then grpc-status 0; literals only, so any table state works.</summary>
    private static byte[][] SuccessFrames(int streamId, IMessage message) =>
    [
        Frame(FrameType.Headers, FrameFlags.EndHeaders, streamId, new TestHpackEncoder().Indexed(8).NeverIndexed("content-type", "application/grpc").ToArray()),
        Frame(FrameType.Data, 0, streamId, GrpcMessage(message)),
        Frame(FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, streamId, new TestHpackEncoder().NeverIndexed("grpc-status", "0").ToArray()),
    ];
}

using System.Buffers.Binary;
using Conclave.Api.Etcd;
using Conclave.Server.Http2;
using Google.Protobuf;
using Microsoft.AspNetCore.Connections;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Issue 19 item 5: a client (or the proxy in front of it) that closes its side of the connection while a watch or
/// lease keep-alive stream is open gets a clean close, as from etcd (whose 3.4 server answers with FIN alone), never a
/// TCP reset (proxies, and the npm <c>etcd3</c> client's test proxy, report a reset as an error). The member sends
/// GOAWAY NO_ERROR, then FIN.
/// </summary>
public sealed class ClientCloseTests(ITestOutputHelper output)
{
    public enum OpenStream
    {
        Watch,
        LeaseKeepAlive,
    }

    [Theory]
    [InlineData(OpenStream.Watch, false)]
    [InlineData(OpenStream.Watch, true)]
    [InlineData(OpenStream.LeaseKeepAlive, false)]
    [InlineData(OpenStream.LeaseKeepAlive, true)]
    public async Task A_client_that_closes_its_side_with_a_stream_open_gets_fin_not_a_reset(OpenStream stream, bool goAwayFirst)
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        await using var connection = await RawHttp2Connection.OpenAsync(node.Endpoint, timeout.Token);
        var (path, message) = stream switch
        {
            OpenStream.Watch => ("/etcdserverpb.Watch/Watch", (IMessage)new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("client-close") } }),
            _ => ("/etcdserverpb.Lease/LeaseKeepAlive", new LeaseKeepAliveRequest { ID = await GrantAsync(node) }),
        };

        byte[] request =
        [
            .. RawHttp2Connection.Frame(FrameType.Settings, FrameFlags.Ack, 0, []),
            .. RawHttp2Connection.HeaderFrames(1, [.. RequestBlocks.Request(new Uri(node.Endpoint).Authority, path)]),
            .. RawHttp2Connection.Frame(FrameType.Data, 0, 1, GrpcMessage(message)),
        ];
        await connection.SendAsync(request, timeout.Token);

        // The stream is open and answering: its first response message arrived.
        while (await connection.ReadFrameAsync(timeout.Token) is var (frame, _) && !(frame.Type == FrameType.Data && frame.StreamId == 1))
        {
        }

        if (goAwayFirst)
        {
            // What grpc-go's client sends when it closes a connection.
            var goAway = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(goAway.AsSpan(4), (uint)Http2ErrorCode.NoError);
            await connection.SendAsync(RawHttp2Connection.Frame(FrameType.GoAway, 0, 0, goAway), timeout.Token);
        }

        connection.ShutdownSend();
        var (serverGoAway, reset) = await connection.ReadUntilEndAsync(timeout.Token);

        output.WriteLine($"GOAWAY {serverGoAway?.ToString() ?? "(none)"}, then {(reset ? "RST" : "FIN")}");
        Assert.False(reset, "the member reset the connection instead of closing it");
        // etcd 3.4 sends FIN alone; Kestrel's graceful close sends GOAWAY NO_ERROR first, which clients take as a close.
        Assert.True(serverGoAway is null or Http2ErrorCode.NoError, $"GOAWAY {serverGoAway}");
    }

    [Fact]
    public async Task A_graceful_close_that_takes_longer_than_the_grace_is_aborted()
    {
        // What Kestrel's HTTP layer sees through the middleware: not the transport's close at once (that path resets
        // a connection with open streams), but still a close, once the grace has passed, however the client behaves.
        var clock = new ManualClock();
        using var transportClosed = new CancellationTokenSource();
        var context = new DefaultConnectionContext { ConnectionClosed = transportClosed.Token };
        var seen = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connection = Grpc.GracefulClientClose.Wrap(
            async c =>
            {
                seen.SetResult(c.ConnectionClosed);
                await release.Task;
            },
            clock)(context);
        var kestrelSees = await seen.Task;

        await transportClosed.CancelAsync();
        Assert.False(kestrelSees.IsCancellationRequested, "the HTTP layer heard of the client's close before its input ended");

        clock.Advance(Grpc.GracefulClientClose.Grace - TimeSpan.FromMilliseconds(1));
        Assert.False(kestrelSees.IsCancellationRequested);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(kestrelSees.IsCancellationRequested, "the close was not bounded by the grace");

        release.SetResult();
        await connection;
        Assert.Equal(transportClosed.Token, context.ConnectionClosed);
    }

    private static async Task<long> GrantAsync(TestNode node)
    {
        using var channel = node.CreateChannel();
        var lease = await new Lease.LeaseClient(channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = 60 }, deadline: DateTime.UtcNow.AddSeconds(30));
        return lease.ID;
    }

    /// <summary>A gRPC length-prefixed message: not compressed, 4-byte big-endian length, then the protobuf bytes.</summary>
    private static byte[] GrpcMessage(IMessage message)
    {
        var body = message.ToByteArray();
        var framed = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        return framed;
    }
}

using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// etcd advertises no stream limit, and its clients rely on that: clientv3 opens one Watch stream per distinct
/// context, all on one connection, and waits without end for a stream beyond the server's limit. Conclave advertises
/// 1,000 (--max-concurrent-streams): a few hundred streams on one connection must all be served.
/// </summary>
public sealed class ConcurrentStreamsTests(ITestOutputHelper output)
{
    private const int Streams = 500;

    [Fact]
    public async Task One_connection_carries_hundreds_of_concurrent_watch_streams()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        using var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false }; // as grpc-go: one connection
        using var channel = GrpcChannel.ForAddress(node.Endpoint, new GrpcChannelOptions { HttpHandler = handler });
        var watch = new Conclave.Api.Etcd.Watch.WatchClient(channel);
        var calls = new List<AsyncDuplexStreamingCall<WatchRequest, WatchResponse>>();
        try
        {
            for (var i = 0; i < Streams; i++)
            {
                var call = watch.Watch(cancellationToken: timeout.Token);
                calls.Add(call);
                await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8($"streams/{i}") } }, timeout.Token);
            }

            foreach (var call in calls)
            {
                Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
                Assert.True(call.ResponseStream.Current.Created);
            }
        }
        finally
        {
            foreach (var call in calls)
            {
                call.Dispose();
            }
        }
    }
}

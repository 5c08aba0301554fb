using System.Diagnostics;
using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Diagnostics;

/// <summary>
/// gRPC calls reach their method without the route matcher (whose catch-all UNIMPLEMENTED routes made it capture
/// route values on every call), and a method the server does not have still answers UNIMPLEMENTED.
/// </summary>
public sealed class GrpcRoutingTests(ITestOutputHelper output)
{
    private const string EndpointMatched = "Microsoft.AspNetCore.Routing.EndpointMatched";

    [Fact]
    public async Task Known_methods_skip_the_route_matcher_and_unknown_ones_answer_unimplemented()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var port = new Uri(node.Endpoint).Port;
        var matched = new List<string>();
        using var subscription = DiagnosticListener.AllListeners.Subscribe(new Observer<DiagnosticListener>(listener =>
        {
            if (listener.Name == "Microsoft.AspNetCore")
            {
                listener.Subscribe(new Observer<KeyValuePair<string, object?>>(e =>
                {
                    // Other tests' servers share the process: count only this one's calls.
                    if (e.Key == EndpointMatched && e.Value is HttpContext context && context.Connection.LocalPort == port)
                    {
                        lock (matched)
                        {
                            matched.Add(context.Request.Path.Value ?? "");
                        }
                    }
                }), name => name == EndpointMatched);
            }
        }));

        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("routed");
        for (var i = 0; i < 10; i++)
        {
            await PutAsync(kv, key, $"v{i}");
        }

        var read = await kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key) });
        Assert.Equal("v9", read.Kvs[0].Value.ToStringUtf8());

        // A method no service of ours has goes through routing to gRPC's catch-all.
        var unknown = new Method<RangeRequest, RangeResponse>(MethodType.Unary, "etcdserverpb.Auth", "NoSuchMethod", Marshallers.Create(r => Google.Protobuf.MessageExtensions.ToByteArray(r), RangeRequest.Parser.ParseFrom), Marshallers.Create(r => Google.Protobuf.MessageExtensions.ToByteArray(r), RangeResponse.Parser.ParseFrom));
        var error = await Assert.ThrowsAsync<RpcException>(async () => await channel.CreateCallInvoker().AsyncUnaryCall(unknown, null, new CallOptions(), new RangeRequest()));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);

        lock (matched)
        {
            Assert.DoesNotContain("/etcdserverpb.KV/Put", matched);
            Assert.DoesNotContain("/etcdserverpb.KV/Range", matched);
            Assert.Contains("/etcdserverpb.Auth/NoSuchMethod", matched);
        }
    }

    private sealed class Observer<T>(Action<T> next) : IObserver<T>
    {
        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void OnNext(T value) => next(value);
    }
}

using System.Diagnostics;
using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Diagnostics;

/// <summary>
/// The request path does no tracing work nobody asked for: ASP.NET Core starts an Activity per request whenever its
/// hosting log category is enabled, and that cost about a tenth of the server's CPU per put.
/// </summary>
public sealed class RequestTracingTests(ITestOutputHelper output)
{
    private const string RequestActivity = "Microsoft.AspNetCore.Hosting.HttpRequestIn";

    [Fact]
    public async Task Requests_start_no_activity_while_nothing_traces_the_server()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var key = Keys.Unique("untraced");
        var started = 0;

        // Listens only to activities created without an ActivitySource (what hosting creates for its log scopes), so
        // ASP.NET Core's own source still has no listener, as in production.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.Length == 0,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStarted = a =>
            {
                if (a.OperationName == RequestActivity)
                {
                    Interlocked.Increment(ref started);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        for (var i = 0; i < 20; i++)
        {
            await PutAsync(kv, key, $"v{i}");
        }

        var read = await kv.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key) });
        Assert.Equal("v19", read.Kvs[0].Value.ToStringUtf8());
        Assert.Equal(0, Volatile.Read(ref started));
        // Without an OTLP endpoint no tracer subscribes to the Raft pipeline's source, so proposals capture no span and
        // start none (ClusterTracing.CallerSpan and StartProposal return null before touching Activity.Current).
        Assert.False(Conclave.Cluster.ClusterTracing.Source.HasListeners());
    }
}

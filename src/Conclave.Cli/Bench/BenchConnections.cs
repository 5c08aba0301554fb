using Conclave.Api.Etcd;
using Grpc.Net.Client;

namespace Conclave.Cli.Bench;

/// <summary>
/// <c>--conns</c> gRPC channels, each with its own HTTP/2 connection, spread over the endpoints; the
/// <c>--clients</c> loops share them round-robin. Raw generated stubs keep the bench itself cheap.
/// </summary>
internal sealed class BenchConnections : IDisposable
{
    private readonly GrpcChannel[] _channels;

    public BenchConnections(IReadOnlyList<string> endpoints, int conns)
    {
        _channels = new GrpcChannel[conns];
        Kv = new KV.KVClient[conns];
        for (var i = 0; i < conns; i++)
        {
            var handler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                UseProxy = false,
            };
            _channels[i] = GrpcChannel.ForAddress(Url(endpoints[i % endpoints.Count]), new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
            Kv[i] = new KV.KVClient(_channels[i]);
        }
    }

    public KV.KVClient[] Kv { get; }

    public static string Url(string endpoint) =>
        endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "http://" + endpoint;

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}

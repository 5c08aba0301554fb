using System.Net;
using Grpc.Net.Client;

namespace Conclave.Bench;

/// <summary>Plain grpc-dotnet channels for the lock and keep-alive benches (long-lived calls and bidirectional streams).</summary>
internal static class BenchGrpc
{
    public static GrpcChannel Channel(string endpoint)
    {
        var address = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "http://" + endpoint;
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                AutomaticDecompression = DecompressionMethods.None,
                UseProxy = false,
            },
            DisposeHttpClient = true,
        });
    }

    /// <summary>Runs <paramref name="work"/> over <paramref name="items"/> with at most <paramref name="parallelism"/> in flight.</summary>
    public static Task ForEachAsync<T>(IEnumerable<T> items, int parallelism, Func<T, CancellationToken, ValueTask> work, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, work);
}

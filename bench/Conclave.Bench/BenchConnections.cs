using Conclave.Api.Etcd;
using Conclave.Bench.Http2;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Bench;

/// <summary>
/// <c>--conns</c> connections, each its own HTTP/2 connection, spread over the endpoints; the <c>--clients</c>
/// loops share them round-robin. Raw generated stubs keep the bench itself cheap. With the lean transport (the
/// default) the stubs run on <see cref="LeanCallInvoker"/>; https endpoints always use grpc-dotnet.
/// </summary>
internal sealed class BenchConnections : IDisposable
{
    private readonly IDisposable[] _owned;

    public BenchConnections(BenchSettings settings)
        : this(settings.Endpoints, settings.Conns, settings.Transport)
    {
    }

    public BenchConnections(IReadOnlyList<string> endpoints, int conns, BenchTransport transport = BenchTransport.Lean)
    {
        _owned = new IDisposable[conns];
        Invokers = new CallInvoker[conns];
        Kv = new KV.KVClient[conns];
        for (var i = 0; i < conns; i++)
        {
            var endpoint = endpoints[i % endpoints.Count];
            if (transport == BenchTransport.Lean && LeanCallInvoker.TryCreate(endpoint, out var lean))
            {
                _owned[i] = lean;
                Invokers[i] = lean;
            }
            else
            {
                var handler = new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = true,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                    UseProxy = false,
                };
                var channel = GrpcChannel.ForAddress(Url(endpoint), new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
                _owned[i] = channel;
                Invokers[i] = channel.CreateCallInvoker();
            }

            Kv[i] = new KV.KVClient(Invokers[i]);
        }
    }

    public KV.KVClient[] Kv { get; }

    /// <summary>One invoker per connection, for other generated clients (<c>new Lease.LeaseClient(Invokers[i])</c>); unary calls only on lean.</summary>
    public CallInvoker[] Invokers { get; }

    /// <summary>
    /// A Status call to every endpoint over the lean transport; throws <see cref="InvalidOperationException"/>
    /// naming the first unreachable one. False, having checked nothing conclusive, when an endpoint needs
    /// grpc-dotnet (https): the caller then checks with the SDK.
    /// </summary>
    public static async Task<bool> TryCheckReachableAsync(IReadOnlyList<string> endpoints, CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints)
        {
            if (!LeanCallInvoker.TryCreate(endpoint, out var invoker))
            {
                return false;
            }

            using (invoker)
            {
                try
                {
                    await new Maintenance.MaintenanceClient(invoker).StatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
                }
                catch (RpcException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
                catch (RpcException e)
                {
                    throw new InvalidOperationException($"{Url(endpoint)} is unavailable: {e.Status.Detail}", e);
                }
            }
        }

        return true;
    }

    public static string Url(string endpoint) =>
        endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : "http://" + endpoint;

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }
}

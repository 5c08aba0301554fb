using Conclave.Api.Etcd;
using Conclave.Bench.Http2;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Conclave.Bench;

/// <summary>
/// <c>--conns</c> connections, each its own HTTP/2 connection, spread over the endpoints; the <c>--clients</c>
/// loops share them round-robin. Raw generated stubs keep the bench itself cheap. With the lean transport (the
/// default) the stubs run on <see cref="LeanCallInvoker"/>; https endpoints use grpc-dotnet unless TLS is
/// configured (<c>--cacert</c>), which the lean transport speaks too.
/// </summary>
internal sealed class BenchConnections : IDisposable
{
    private static readonly TimeSpan AuthenticateTimeout = TimeSpan.FromSeconds(30);

    private readonly IDisposable[] _owned;
    private readonly string[] _endpoints;

    public BenchConnections(BenchSettings settings)
        : this(settings.Endpoints, settings.Conns, settings.Transport, settings.Tls)
    {
    }

    public BenchConnections(IReadOnlyList<string> endpoints, int conns, BenchTransport transport = BenchTransport.Lean, BenchTls? tls = null)
    {
        _owned = new IDisposable[conns];
        _endpoints = new string[conns];
        Invokers = new CallInvoker[conns];
        Kv = new KV.KVClient[conns];
        for (var i = 0; i < conns; i++)
        {
            var endpoint = _endpoints[i] = endpoints[i % endpoints.Count];
            if (transport == BenchTransport.Lean && LeanCallInvoker.TryCreate(endpoint, tls, out var lean))
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
                if (tls is not null)
                {
                    handler.SslOptions = tls.ClientOptions(targetHost: null);
                }

                var channel = GrpcChannel.ForAddress(Url(endpoint, tls is not null), new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
                _owned[i] = channel;
                Invokers[i] = channel.CreateCallInvoker();
            }

            Kv[i] = new KV.KVClient(Invokers[i]);
        }
    }

    public KV.KVClient[] Kv { get; }

    /// <summary>One invoker per connection, for other generated clients (<c>new Lease.LeaseClient(Invokers[i])</c>); unary and server-streaming calls only on lean.</summary>
    public CallInvoker[] Invokers { get; }

    /// <summary>
    /// The connections for <paramref name="settings"/>; with <c>--user</c>, each one authenticated on itself before it
    /// is returned, so the measured run pays the token check on every request but never the password check.
    /// </summary>
    /// <exception cref="InvalidOperationException">An endpoint refused the credentials or could not be reached.</exception>
    public static async Task<BenchConnections> OpenAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        var connections = new BenchConnections(settings);
        try
        {
            if (settings.Credentials is { } credentials)
            {
                await connections.AuthenticateAsync(credentials, cancellationToken);
            }

            return connections;
        }
        catch
        {
            connections.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A Status call to every endpoint over the lean transport; throws <see cref="InvalidOperationException"/>
    /// naming the first unreachable one. False, having checked nothing conclusive, when an endpoint needs
    /// grpc-dotnet (https without <paramref name="tls"/>): the caller then checks with the SDK.
    /// </summary>
    public static async Task<bool> TryCheckReachableAsync(IReadOnlyList<string> endpoints, BenchTls? tls, CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints)
        {
            if (!LeanCallInvoker.TryCreate(endpoint, tls, out var invoker))
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
                    throw new InvalidOperationException($"{Url(endpoint, tls is not null)} is unavailable: {e.Status.Detail}", e);
                }
            }
        }

        return true;
    }

    /// <summary>The endpoint as a URL: bare host:port gets http://, or https:// when <paramref name="tls"/>.</summary>
    public static string Url(string endpoint, bool tls = false) =>
        endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : (tls ? "https://" : "http://") + endpoint;

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    /// <summary>
    /// etcd's Auth/Authenticate on each connection in turn (a password check is bcrypt, deliberately slow, and a
    /// server queues only a few), then every later call on it carries the token: the lean transport bakes it into
    /// its fixed header block, grpc-dotnet adds it as metadata.
    /// </summary>
    private async Task AuthenticateAsync(BenchCredentials credentials, CancellationToken cancellationToken)
    {
        for (var i = 0; i < Invokers.Length; i++)
        {
            AuthenticateResponse response;
            try
            {
                response = await new Auth.AuthClient(Invokers[i]).AuthenticateAsync(
                    new AuthenticateRequest { Name = credentials.Name, Password = credentials.Password },
                    deadline: DateTime.UtcNow.Add(AuthenticateTimeout),
                    cancellationToken: cancellationToken);
            }
            catch (RpcException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (RpcException e)
            {
                throw new InvalidOperationException($"{_endpoints[i]}: authenticating as '{credentials.Name}' failed: {e.Status.Detail}", e);
            }

            var token = response.Token;
            if (Invokers[i] is LeanCallInvoker lean)
            {
                lean.UseToken(token);
            }
            else
            {
                Invokers[i] = Invokers[i].Intercept(metadata =>
                {
                    metadata.Add("token", token);
                    return metadata;
                });
                Kv[i] = new KV.KVClient(Invokers[i]);
            }
        }
    }
}

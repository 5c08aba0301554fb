using System.Net;
using Conclave.Api.Etcd;
using Grpc.Net.Client;

namespace Conclave.Client.Internal;

/// <summary>One member's address with its channel and the generated service clients bound to it.</summary>
internal sealed class ClientEndpoint : IDisposable
{
    private ClientEndpoint(string address, GrpcChannel channel)
    {
        Address = address;
        Channel = channel;
        Kv = new KV.KVClient(channel);
        Watch = new Watch.WatchClient(channel);
        Maintenance = new Maintenance.MaintenanceClient(channel);
        Cluster = new Cluster.ClusterClient(channel);
        Lease = new Lease.LeaseClient(channel);
        Lock = new Api.Lock.Lock.LockClient(channel);
        Election = new Api.Election.Election.ElectionClient(channel);
    }

    public string Address { get; }

    public GrpcChannel Channel { get; }

    public KV.KVClient Kv { get; }

    public Watch.WatchClient Watch { get; }

    public Maintenance.MaintenanceClient Maintenance { get; }

    public Cluster.ClusterClient Cluster { get; }

    public Lease.LeaseClient Lease { get; }

    public Api.Lock.Lock.LockClient Lock { get; }

    public Api.Election.Election.ElectionClient Election { get; }

    public static ClientEndpoint Create(string address, ConclaveClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.DialTimeout,
            // Several HTTP/2 connections once one reaches the server's concurrent stream limit, instead of queueing.
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = options.KeepAliveInterval,
            KeepAlivePingTimeout = options.KeepAliveTimeout,
            // etcd (PermitWithoutStream = false) answers pings on idle connections with GOAWAY "too_many_pings".
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        if (address.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            handler.SslOptions = ClientTls.For(options);
        }

        // On .NET 5+ an http:// address makes GrpcChannel speak HTTP/2 with prior knowledge (h2c); no AppContext switch needed.
        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = int.MaxValue,
            MaxSendMessageSize = int.MaxValue,
            // gRPC's own reconnect back-off grows to 2 minutes by default; a member that comes back should be used again
            // within our retry budget, so cap it like our own retries.
            InitialReconnectBackoff = options.RetryBaseDelay,
            MaxReconnectBackoff = options.RetryMaxDelay,
            LoggerFactory = options.LoggerFactory,
        });
        return new ClientEndpoint(address, channel);
    }

    /// <summary>Accepts <c>host:port</c>, <c>http://host:port</c> and <c>https://host:port</c>; returns the URL form.</summary>
    public static string Normalize(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var trimmed = endpoint.Trim().TrimEnd('/');
        if (!trimmed.Contains("://", StringComparison.Ordinal))
        {
            trimmed = "http://" + trimmed;
        }

        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException($"Endpoint '{endpoint}' is not a valid address; expected host:port or http(s)://host:port.", nameof(endpoint));
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }

    public void Dispose() => Channel.Dispose();
}

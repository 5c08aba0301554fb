using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// A gRPC <see cref="CallInvoker"/> for unary and server-streaming calls over one <see cref="LeanGrpcConnection"/> to one
/// endpoint (h2c, or h2 over TLS), dialled on first use and again after it fails or is retired. Generated clients run on
/// it unchanged (<c>new KV.KVClient(invoker)</c>). Client-streaming, duplex and blocking calls are not supported.
/// </summary>
internal sealed class LeanCallInvoker : CallInvoker, IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly string _host;
    private readonly int _port;
    private readonly string _authority;
    private readonly BenchTls? _tls;
    private readonly ConcurrentDictionary<string, byte[]> _headerBlocks = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private volatile LeanGrpcConnection? _connection;
    private Task<LeanGrpcConnection>? _connecting;
    private bool _disposed;
    private volatile string? _token;

    private LeanCallInvoker(string host, int port, string authority, BenchTls? tls)
    {
        _host = host;
        _port = port;
        _authority = authority;
        _tls = tls;
    }

    /// <summary>An invoker for an <c>http://host:port</c> (or bare <c>host:port</c>) endpoint; false for any other scheme.</summary>
    public static bool TryCreate(string endpoint, [NotNullWhen(true)] out LeanCallInvoker? invoker) => TryCreate(endpoint, null, out invoker);

    /// <summary>
    /// With <paramref name="tls"/>: an invoker that speaks TLS to an <c>https://host:port</c> (or bare <c>host:port</c>)
    /// endpoint, false for any other scheme. Without: <see cref="TryCreate(string, out LeanCallInvoker?)"/>.
    /// </summary>
    public static bool TryCreate(string endpoint, BenchTls? tls, [NotNullWhen(true)] out LeanCallInvoker? invoker)
    {
        invoker = null;
        var scheme = tls is null ? Uri.UriSchemeHttp : Uri.UriSchemeHttps;
        var url = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : scheme + "://" + endpoint;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != scheme)
        {
            return false;
        }

        // Sockets want an IPv6 literal without its brackets; :authority keeps them.
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.IdnHost;
        invoker = new LeanCallInvoker(host, uri.Port, uri.Authority, tls);
        return true;
    }

    /// <summary>Where the connection goes: (host for the socket, port, :authority).</summary>
    internal (string Host, int Port, string Authority) Target => (_host, _port, _authority);

    /// <summary>
    /// Sends <c>token: <paramref name="token"/></c> (etcd's auth metadata) in the fixed header block of every call
    /// started from now on, at no per-call cost.
    /// </summary>
    public void UseToken(string token)
    {
        _token = token;
        _headerBlocks.Clear();
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new LeanUnaryCall<TResponse>(method.ResponseMarshaller.ContextualDeserializer);
        Start(call, method, options, request);
        return new AsyncUnaryCall<TResponse>(
            call.Task,
            static s => ((LeanStream)s).ResponseHeadersAsync(),
            static s => ((LeanStream)s).GetStatus(),
            static s => ((LeanStream)s).GetTrailers(),
            static s => ((LeanStream)s).Cancel(StatusCode.Cancelled, "Call disposed."),
            call);
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw new NotSupportedException("The lean transport has no blocking calls; use the async method.");

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var call = new LeanServerStreamingCall<TResponse>(method.ResponseMarshaller.ContextualDeserializer);
        Start(call, method, options, request);
        return new AsyncServerStreamingCall<TResponse>(
            call,
            static s => ((LeanStream)s).ResponseHeadersAsync(),
            static s => ((LeanStream)s).GetStatus(),
            static s => ((LeanStream)s).GetTrailers(),
            static s => ((LeanStream)s).Cancel(StatusCode.Cancelled, "Call disposed."),
            call);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("The lean transport carries unary and server-streaming calls only; use --transport grpc for client streams.");

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw new NotSupportedException("The lean transport carries unary and server-streaming calls only; use --transport grpc for client streams.");

    /// <summary>Writes the request, arms cancellation and the deadline, and hands the call to a connection.</summary>
    private void Start<TRequest, TResponse>(LeanStream call, Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class
        where TResponse : class
    {
        var block = _headerBlocks.GetOrAdd(method.FullName, static (path, self) => GrpcRequestHeaders.Build(path, self._authority, self._tls is not null, self._token), this);
        var timeout = Timeout(options.Deadline);
        call.HeaderBlock = timeout is not null || options.Headers is { Count: > 0 } ? GrpcRequestHeaders.WithExtras(block, timeout, options.Headers) : block;
        var (buffer, length) = RequestSerializer.Serialize(method.RequestMarshaller.ContextualSerializer, request);
        call.SetRequest(buffer, length);
        call.Watch(options, timeout);
        if (_connection is not { } connection || !connection.TryStart(call))
        {
            _ = StartSlowAsync(call);
        }
    }

    public void Dispose()
    {
        LeanGrpcConnection? connection;
        lock (_lock)
        {
            _disposed = true;
            connection = _connection;
            _connection = null;
        }

        connection?.Dispose();
    }

    private static TimeSpan? Timeout(DateTime? deadline)
    {
        if (deadline is not { } d || d == DateTime.MaxValue)
        {
            return null;
        }

        return (d.Kind == DateTimeKind.Local ? d.ToUniversalTime() : d) - DateTime.UtcNow;
    }

    /// <summary>The path for a call that found no usable connection: dial (once for all such calls), then start.</summary>
    private async Task StartSlowAsync(LeanStream call)
    {
        try
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var connection = await GetConnectionAsync().ConfigureAwait(false);
                if (connection.TryStart(call))
                {
                    return;
                }
            }

            throw new IOException("No connection accepted the call.");
        }
        catch (Exception e)
        {
            call.ReleaseRequest();
            call.TryComplete(new Status(StatusCode.Unavailable, $"Error connecting to {_authority}: {e.Message}", e));
        }
    }

    private Task<LeanGrpcConnection> GetConnectionAsync()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is { IsAcceptingStreams: true } connection)
            {
                return Task.FromResult(connection);
            }

            // A finished attempt is either the retired connection or a failure: dial again.
            if (_connecting is null || _connecting.IsCompleted)
            {
                _connecting = ConnectAsync();
            }

            return _connecting;
        }
    }

    private async Task<LeanGrpcConnection> ConnectAsync()
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        var connection = await LeanGrpcConnection.ConnectAsync(_host, _port, _authority, _tls?.ClientOptions(_host), timeout.Token).ConfigureAwait(false);
        lock (_lock)
        {
            if (_disposed)
            {
                connection.Dispose();
                throw new ObjectDisposedException(nameof(LeanCallInvoker));
            }

            // The connection replaced is failed or retiring: it closes itself once its last stream ends.
            _connection = connection;
        }

        return connection;
    }
}

using Conclave.Client.Internal;
using Grpc.Core;

namespace Conclave.Client;

/// <summary>
/// Client of a Conclave (or any etcd v3) cluster: key-value reads and writes, transactions, watches, leases,
/// sessions with locks and elections, and cluster status. Thread-safe; create one per application and share it. All calls go over one cleartext (or TLS)
/// HTTP/2 channel per endpoint, and all watches share one multiplexed watch stream.
/// </summary>
public sealed partial class ConclaveClient : IAsyncDisposable
{
    private readonly EndpointSelector _endpoints;
    private readonly WatchMultiplexer _watches;
    private readonly KeepAliveMultiplexer _keepAlives;
    private readonly Metadata? _headers;
    private int _disposed;

    /// <summary>Creates a client for the given cluster endpoints with default settings.</summary>
    /// <param name="endpoints">Client URLs, e.g. <c>127.0.0.1:2379</c>; none means <c>http://127.0.0.1:2379</c>.</param>
    public ConclaveClient(params string[] endpoints)
        : this(endpoints is null || endpoints.Length == 0 ? new ConclaveClientOptions() : new ConclaveClientOptions { Endpoints = endpoints })
    {
    }

    /// <summary>Creates a client. No connection is opened until the first call.</summary>
    /// <param name="options">Endpoints, timeouts and retry settings.</param>
    public ConclaveClient(ConclaveClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        Options = options;

        var addresses = new List<string>(options.Endpoints.Count);
        foreach (var endpoint in options.Endpoints)
        {
            var normalized = ClientEndpoint.Normalize(endpoint);
            if (!addresses.Contains(normalized))
            {
                addresses.Add(normalized);
            }
        }

        Endpoints = addresses;
        var endpoints = new ClientEndpoint[addresses.Count];
        for (var i = 0; i < endpoints.Length; i++)
        {
            endpoints[i] = ClientEndpoint.Create(addresses[i], options);
        }

        InstanceId = string.IsNullOrEmpty(options.InstanceId) ? DefaultInstanceId() : options.InstanceId;
        _endpoints = new HashRingSelector(
            endpoints,
            InstanceId,
            (endpoint, ct) => EndpointHealth.IsHealthyAsync(endpoint, options, _headers, ct),
            options.TimeProvider,
            options.RetryBaseDelay,
            options.RetryMaxDelay);
        if (!string.IsNullOrEmpty(options.InstanceId))
        {
            _headers = new Metadata { { "conclave-instance-id", options.InstanceId } };
        }

        _watches = new WatchMultiplexer(_endpoints, options, _headers);
        _keepAlives = new KeepAliveMultiplexer(_endpoints, options, _headers);
    }

    /// <summary>The settings this client was created with.</summary>
    public ConclaveClientOptions Options { get; }

    /// <summary>The endpoints in URL form (<c>http://host:port</c>), in configuration order, without duplicates.</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>
    /// The id that places this client on the endpoint hash ring: <see cref="ConclaveClientOptions.InstanceId"/>, or
    /// <c>{machine name}/{process id}</c> when that is not set.
    /// </summary>
    public string InstanceId { get; }

    /// <summary>
    /// Closes every watch and keep-alive (their enumerations end with <see cref="ObjectDisposedException"/>; sessions
    /// see <see cref="ConclaveSession.Lost"/> fire, their leases are left to expire) and every connection.
    /// </summary>
    /// <returns>A task that completes when everything is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _keepAlives.DisposeAsync().ConfigureAwait(false);
        await _watches.DisposeAsync().ConfigureAwait(false);
        _endpoints.Dispose();
    }

    private static string DefaultInstanceId() => $"{Environment.MachineName}/{Environment.ProcessId}";

    private static void Validate(ConclaveClientOptions options)
    {
        if (options.Endpoints is null || options.Endpoints.Count == 0)
        {
            throw new ArgumentException("ConclaveClientOptions.Endpoints must name at least one endpoint.", nameof(options));
        }

        if (options.MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxAttempts, "ConclaveClientOptions.MaxAttempts must be at least 1.");
        }

        if (options.RequestTimeout <= TimeSpan.Zero && options.RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.RequestTimeout, "ConclaveClientOptions.RequestTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }

        if (options.RetryBaseDelay <= TimeSpan.Zero || options.RetryMaxDelay < options.RetryBaseDelay)
        {
            // A zero delay would turn reconnects and health probes of a dead member into busy loops.
            throw new ArgumentOutOfRangeException(nameof(options), options.RetryBaseDelay, "ConclaveClientOptions.RetryBaseDelay must be positive and at most RetryMaxDelay.");
        }

        if (options.WatchBufferCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.WatchBufferCapacity, "ConclaveClientOptions.WatchBufferCapacity must be at least 1.");
        }
    }

    private CallOptions CallOptionsFor(CancellationToken cancellationToken, Metadata? headers = null)
    {
        DateTime? deadline = Options.RequestTimeout == Timeout.InfiniteTimeSpan
            ? null
            : Options.TimeProvider.GetUtcNow().UtcDateTime + Options.RequestTimeout;
        return new CallOptions(headers ?? _headers, deadline, cancellationToken);
    }

    /// <summary>
    /// Runs one unary call with the retry policy: on a retryable failure the selector moves to the next endpoint
    /// and the call is sent again after a back-off, up to <see cref="ConclaveClientOptions.MaxAttempts"/> times.
    /// Returns the response with the endpoint that served it. The call delegate is static and takes its request as state, so a call allocates no closure.
    /// </summary>
    private async ValueTask<(TResponse Response, ClientEndpoint Endpoint)> InvokeAsync<TRequest, TResponse>(
        TRequest request,
        Func<ClientEndpoint, TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        bool idempotent,
        CancellationToken cancellationToken,
        long requestedRevision = 0,
        long leaseId = 0,
        ClientEndpoint? pinned = null,
        Metadata? headers = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        for (var attempt = 1; ; attempt++)
        {
            var endpoint = pinned ?? _endpoints.Current;
            try
            {
                using var pending = call(endpoint, request, CallOptionsFor(cancellationToken, headers));
                return (await pending.ResponseAsync.ConfigureAwait(false), endpoint);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The request was canceled.", ex, cancellationToken);
            }
            catch (RpcException ex) when (RpcErrorMap.IsRetryable(ex, idempotent))
            {
                _endpoints.ReportFailure(endpoint);
                if (attempt >= Options.MaxAttempts)
                {
                    throw RpcErrorMap.ToException(ex, endpoint.Address, requestedRevision, leaseId);
                }

                var delay = Backoff.Delay(attempt, Options.RetryBaseDelay, Options.RetryMaxDelay);
                await Task.Delay(delay, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw RpcErrorMap.ToException(ex, endpoint.Address, requestedRevision, leaseId);
            }
        }
    }
}

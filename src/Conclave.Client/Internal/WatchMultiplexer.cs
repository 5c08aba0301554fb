using System.Threading.Channels;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>
/// Runs every watch of a client over one bidirectional Watch stream. Creates are sent one at a time, because
/// the server answers them in order and the "created" answer is how a watch learns its ID. When the stream
/// fails, it reconnects with back-off (moving to the next endpoint) and re-creates every watch from the first
/// revision its consumer has not been handed, so consumers see each event once, in order.
/// </summary>
/// <remarks>
/// Back-pressure is per stream: a consumer whose buffer is full stops the reader, which holds back the other
/// watches of the same client too. That is the price of never dropping events; give a slow consumer a larger
/// <see cref="WatchOptions.BufferCapacity"/> or its own client.
/// </remarks>
internal sealed class WatchMultiplexer : IAsyncDisposable
{
    private readonly EndpointSelector _endpoints;
    private readonly ConclaveClientOptions _options;
    private readonly Metadata? _headers;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<WatchRegistration> _registrations = [];
    private readonly Dictionary<long, WatchRegistration> _byId = [];
    private readonly Queue<WatchRegistration> _toCreate = new();
    private readonly Queue<long> _toCancel = new();

    // A wake-up signal, not a queue: the state to act on lives in the fields above, so one pending signal is enough.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private WatchRegistration? _creating;
    private Task? _loop;
    private bool _disposed;

    public WatchMultiplexer(EndpointSelector endpoints, ConclaveClientOptions options, Metadata? headers)
    {
        _endpoints = endpoints;
        _options = options;
        _headers = headers;
    }

    public WatchRegistration Register(ByteString key, ByteString rangeEnd, WatchOptions options)
    {
        var capacity = options.BufferCapacity > 0 ? options.BufferCapacity : _options.WatchBufferCapacity;
        var registration = new WatchRegistration(key, rangeEnd, options, capacity, _stop.Token);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(ConclaveClient));
            _registrations.Add(registration);
            _toCreate.Enqueue(registration);
            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }

        Wake();
        return registration;
    }

    public void Unregister(WatchRegistration registration)
    {
        registration.Close();
        lock (_gate)
        {
            _registrations.Remove(registration);
            if (registration.WatchId >= 0)
            {
                _byId.Remove(registration.WatchId);
                _toCancel.Enqueue(registration.WatchId);
                registration.WatchId = -1;
            }
        }

        registration.Dispose();
        Wake();
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            _disposed = true;
            loop = _loop;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        lock (_gate)
        {
            foreach (var registration in _registrations)
            {
                registration.Fail(new ObjectDisposedException(nameof(ConclaveClient), "The client was disposed while the watch was running."));
            }

            _registrations.Clear();
        }

        _stop.Dispose();
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task RunAsync(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            bool idle;
            lock (_gate)
            {
                idle = _registrations.Count == 0;
            }

            if (idle)
            {
                // No watch to serve: don't hold (or keep re-dialing) a stream until someone registers.
                try
                {
                    await _wake.Reader.ReadAsync(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            var endpoint = _endpoints.Current;
            var healthy = await RunStreamAsync(endpoint, stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested)
            {
                return;
            }

            // A stream that worked for a while earns a quick first retry; repeated dial failures back off.
            failures = healthy ? 1 : failures + 1;
            _endpoints.ReportFailure(endpoint);
            try
            {
                await Task.Delay(Backoff.Delay(failures, _options.RetryBaseDelay, _options.RetryMaxDelay), _options.TimeProvider, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Serves one stream until it fails. Returns whether the server answered on it at all.</summary>
    private async Task<bool> RunStreamAsync(ClientEndpoint endpoint, CancellationToken stop)
    {
        var answered = false;
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var sender = Task.CompletedTask;
        try
        {
            using var call = endpoint.Watch.Watch(_headers, deadline: null, cancellationToken: connection.Token);
            ResetForNewStream();
            sender = SendAsync(call.RequestStream, connection);
            while (await call.ResponseStream.MoveNext(connection.Token).ConfigureAwait(false))
            {
                answered = true;
                await HandleAsync(call.ResponseStream.Current, endpoint.Address).ConfigureAwait(false);
            }
        }
        catch (Exception) when (!stop.IsCancellationRequested)
        {
            // The stream broke (server restart, connection reset, keep-alive timeout): reconnect below.
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Client disposed.
        }
        finally
        {
            await connection.CancelAsync().ConfigureAwait(false);
            try
            {
                await sender.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already reported through the receive side.
            }
        }

        return answered;
    }

    private void ResetForNewStream()
    {
        lock (_gate)
        {
            _byId.Clear();
            _toCancel.Clear();
            _toCreate.Clear();
            _creating = null;
            foreach (var registration in _registrations)
            {
                registration.WatchId = -1;
                _toCreate.Enqueue(registration);
            }
        }
    }

    private async Task SendAsync(IClientStreamWriter<WatchRequest> requests, CancellationTokenSource connection)
    {
        var token = connection.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var request = NextRequest();
                if (request is null)
                {
                    await _wake.Reader.ReadAsync(token).ConfigureAwait(false);
                    continue;
                }

                await requests.WriteAsync(request, token).ConfigureAwait(false);
            }
        }
        catch (Exception) when (!token.IsCancellationRequested)
        {
            // A failed write means a broken stream; make the receive side notice now rather than at the next keep-alive.
            await connection.CancelAsync().ConfigureAwait(false);
        }
    }

    private WatchRequest? NextRequest()
    {
        lock (_gate)
        {
            if (_toCancel.TryDequeue(out var id))
            {
                return new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = id } };
            }

            if (_creating is not null)
            {
                return null;
            }

            while (_toCreate.TryDequeue(out var registration))
            {
                if (registration.IsClosed)
                {
                    continue;
                }

                _creating = registration;
                return new WatchRequest { CreateRequest = registration.ToCreateRequest() };
            }

            return null;
        }
    }

    private async ValueTask HandleAsync(WatchResponse response, string endpoint)
    {
        if (response.Created)
        {
            OnCreated(response, endpoint);
            Wake();
            return;
        }

        WatchRegistration? registration;
        lock (_gate)
        {
            _byId.TryGetValue(response.WatchId, out registration);
        }

        if (registration is null)
        {
            // A canceled watch's late events, or a progress answer for the whole stream (watch ID -1).
            return;
        }

        if (response.Canceled || response.CompactRevision != 0)
        {
            lock (_gate)
            {
                _byId.Remove(response.WatchId);
                _registrations.Remove(registration);
                registration.WatchId = -1;
            }

            registration.Fail(response.CompactRevision != 0
                ? new WatchCompactedException(response.CompactRevision, registration.NextRevision, endpoint)
                : new WatchCanceledException(response.CancelReason, endpoint));
            return;
        }

        var headerRevision = response.Header?.Revision ?? 0;
        if (response.Events.Count == 0)
        {
            // Progress notification: every change up to the header revision has been sent.
            if (headerRevision + 1 > registration.NextRevision)
            {
                registration.NextRevision = headerRevision + 1;
            }

            if (registration.Options.ProgressNotify)
            {
                await registration.DeliverAsync(new WatchBatch(headerRevision, [], IsProgressNotify: true)).ConfigureAwait(false);
            }

            return;
        }

        var events = ToEvents(response, registration.NextRevision);
        if (events.Length == 0)
        {
            return;
        }

        if (await registration.DeliverAsync(new WatchBatch(headerRevision, events, IsProgressNotify: false)).ConfigureAwait(false))
        {
            registration.NextRevision = events[^1].Revision + 1;
        }
    }

    private void OnCreated(WatchResponse response, string endpoint)
    {
        WatchRegistration? registration;
        lock (_gate)
        {
            registration = _creating;
            _creating = null;
            if (registration is null)
            {
                return;
            }

            if (response.Canceled)
            {
                _registrations.Remove(registration);
            }
            else if (registration.IsClosed)
            {
                // The consumer left while the create was in flight.
                _toCancel.Enqueue(response.WatchId);
                return;
            }
            else
            {
                registration.WatchId = response.WatchId;
                _byId[response.WatchId] = registration;
                if (registration.NextRevision == 0)
                {
                    // Started at "now": pin "now" so a reconnect resumes right after it instead of skipping ahead.
                    registration.NextRevision = (response.Header?.Revision ?? 0) + 1;
                }

                return;
            }
        }

        registration.Fail(response.CompactRevision != 0
            ? new WatchCompactedException(response.CompactRevision, registration.NextRevision, endpoint)
            : new WatchCanceledException(response.CancelReason, endpoint));
    }

    // Drops events below the resume point: after a reconnect the server must not, but could, repeat some.
    private static WatchEvent[] ToEvents(WatchResponse response, long nextRevision)
    {
        var source = response.Events;
        var skip = 0;
        while (skip < source.Count && source[skip].Kv.ModRevision < nextRevision)
        {
            skip++;
        }

        var events = new WatchEvent[source.Count - skip];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = WatchEvent.From(source[skip + i]);
        }

        return events;
    }
}

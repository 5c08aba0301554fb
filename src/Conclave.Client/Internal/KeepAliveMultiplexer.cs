using System.Threading.Channels;
using Conclave.Api.Etcd;
using Grpc.Core;

namespace Conclave.Client.Internal;

/// <summary>
/// Keeps every lease of a client alive over one bidirectional LeaseKeepAlive stream, as etcd's Go client does.
/// Each lease is renewed a third of its TTL after the last answer; an unanswered renewal is sent again every
/// <see cref="ResendInterval"/>. A lease is over when the server answers TTL 0 (it expired or was revoked), or
/// when no answer arrived before its deadline: the send time of the oldest unanswered renewal plus the TTL,
/// which is never later than the server's own deadline. The deadline is checked also while the stream is down.
/// </summary>
/// <remarks>
/// Two loops: the connection loop owns the stream (connect, read answers, reconnect with back-off moving to the
/// next endpoint); the scheduler owns time (sends due renewals on the current stream, ends leases whose deadline
/// passed). Only the scheduler writes to the stream.
/// </remarks>
internal sealed class KeepAliveMultiplexer : IAsyncDisposable
{
    /// <summary>How soon an unanswered renewal is sent again (etcd's client uses the same 500 ms).</summary>
    public static readonly TimeSpan ResendInterval = TimeSpan.FromMilliseconds(500);

    // Renewals due within this window are sent together, so 10,000 leases cost a few wake-ups, not 10,000.
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(20);

    private readonly EndpointSelector _endpoints;
    private readonly ConclaveClientOptions _options;
    private readonly Metadata? _headers;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<long, KeptLease> _leases = [];
    private readonly Channel<bool> _wakeScheduler = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<bool> _wakeConnection = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private IClientStreamWriter<LeaseKeepAliveRequest>? _writer;
    private CancellationTokenSource? _stream;
    private Task? _scheduler;
    private Task? _connection;
    private bool _disposed;

    public KeepAliveMultiplexer(EndpointSelector endpoints, ConclaveClientOptions options, Metadata? headers)
    {
        _endpoints = endpoints;
        _options = options;
        _headers = headers;
        _clock = options.TimeProvider;
    }

    /// <summary>
    /// Starts keeping <paramref name="leaseId"/> alive for a new party. <paramref name="firstRenewal"/> is when to
    /// send the first renewal; <paramref name="deadline"/> when the lease must be assumed gone without an answer.
    /// </summary>
    public KeepAliveRegistration Register(long leaseId, DateTimeOffset firstRenewal, DateTimeOffset deadline, bool wantsAnswers)
    {
        var registration = new KeepAliveRegistration(this, leaseId, wantsAnswers);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(ConclaveClient));
            if (!_leases.TryGetValue(leaseId, out var lease))
            {
                lease = new KeptLease(leaseId) { NextSend = firstRenewal, Deadline = deadline };
                _leases.Add(leaseId, lease);
            }
            else if (firstRenewal < lease.NextSend)
            {
                lease.NextSend = firstRenewal;
            }

            lease.Parties.Add(registration);
            _scheduler ??= Task.Run(() => ScheduleAsync(_stop.Token));
            _connection ??= Task.Run(() => ConnectAsync(_stop.Token));
        }

        _wakeScheduler.Writer.TryWrite(true);
        _wakeConnection.Writer.TryWrite(true);
        return registration;
    }

    public void Unregister(KeepAliveRegistration registration)
    {
        CancellationTokenSource? idleStream = null;
        lock (_gate)
        {
            if (!_leases.TryGetValue(registration.LeaseId, out var lease) || !lease.Parties.Remove(registration) || lease.Parties.Count > 0)
            {
                return;
            }

            _leases.Remove(registration.LeaseId);
            if (_leases.Count == 0)
            {
                // Nothing left to keep alive: close the stream instead of holding it open.
                idleStream = _stream;
            }
        }

        CancelQuietly(idleStream);
    }

    public async ValueTask DisposeAsync()
    {
        Task?[] loops;
        List<KeepAliveRegistration> parties;
        lock (_gate)
        {
            _disposed = true;
            loops = [_scheduler, _connection];
            parties = [.. _leases.Values.SelectMany(l => l.Parties)];
            _leases.Clear();
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var loop in loops)
        {
            if (loop is not null)
            {
                await loop.ConfigureAwait(false);
            }
        }

        foreach (var party in parties)
        {
            party.End(LeaseLostReason.Closed, new ObjectDisposedException(nameof(ConclaveClient), "The client was disposed while the lease was being kept alive."));
        }

        _stop.Dispose();
    }

    private async Task ScheduleAsync(CancellationToken stop)
    {
        var due = new List<long>();
        var lost = new List<KeptLease>();
        while (!stop.IsCancellationRequested)
        {
            var now = _clock.GetUtcNow();
            var wakeAt = DateTimeOffset.MaxValue;
            IClientStreamWriter<LeaseKeepAliveRequest>? writer;
            CancellationTokenSource? stream;
            due.Clear();
            lost.Clear();
            lock (_gate)
            {
                writer = _writer;
                stream = _stream;
                foreach (var lease in _leases.Values)
                {
                    if (now >= lease.Deadline)
                    {
                        lost.Add(lease);
                        continue;
                    }

                    if (writer is not null && lease.NextSend <= now + Coalesce)
                    {
                        due.Add(lease.Id);
                        lease.FirstUnansweredSend ??= now;
                        lease.NextSend = now + ResendInterval;
                    }

                    wakeAt = Min(wakeAt, lease.Deadline);
                    if (writer is not null)
                    {
                        wakeAt = Min(wakeAt, lease.NextSend);
                    }
                }

                foreach (var lease in lost)
                {
                    _leases.Remove(lease.Id);
                }
            }

            foreach (var lease in lost)
            {
                foreach (var party in lease.Parties)
                {
                    party.End(LeaseLostReason.DeadlinePassed);
                }
            }

            if (writer is not null && due.Count > 0)
            {
                try
                {
                    foreach (var id in due)
                    {
                        await writer.WriteAsync(new LeaseKeepAliveRequest { ID = id }, stop).ConfigureAwait(false);
                    }
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    // A broken stream: make the connection loop notice now rather than at the next keep-alive ping.
                    CancelQuietly(stream);
                }
                catch (Exception)
                {
                    return;
                }
            }

            var delay = wakeAt == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : wakeAt - _clock.GetUtcNow();
            if (delay != Timeout.InfiniteTimeSpan && delay <= TimeSpan.Zero)
            {
                continue;
            }

            using var timer = delay == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(delay, _clock);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop, timer?.Token ?? CancellationToken.None);
            try
            {
                await _wakeScheduler.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                // Time to look again.
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ConnectAsync(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            bool idle;
            lock (_gate)
            {
                idle = _leases.Count == 0;
            }

            if (idle)
            {
                failures = 0;
                try
                {
                    await _wakeConnection.Reader.ReadAsync(stop).ConfigureAwait(false);
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

            lock (_gate)
            {
                idle = _leases.Count == 0;
            }

            if (idle)
            {
                continue;
            }

            // A stream that worked for a while earns a quick first retry; repeated failures back off.
            failures = healthy ? 1 : failures + 1;
            _endpoints.ReportFailure(endpoint);
            try
            {
                await Task.Delay(Backoff.Delay(failures, _options.RetryBaseDelay, _options.RetryMaxDelay), _clock, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Serves one stream until it fails or is no longer needed. Returns whether the server answered on it.</summary>
    private async Task<bool> RunStreamAsync(ClientEndpoint endpoint, CancellationToken stop)
    {
        var answered = false;
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(stop);
        AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>? call = null;
        try
        {
            call = endpoint.Lease.LeaseKeepAlive(_headers, deadline: null, cancellationToken: stream.Token);
            lock (_gate)
            {
                _writer = call.RequestStream;
                _stream = stream;
                var now = _clock.GetUtcNow();
                foreach (var lease in _leases.Values)
                {
                    // Whatever was in flight on the old stream is lost: renew everything now on the new one.
                    lease.NextSend = now;
                    lease.FirstUnansweredSend = null;
                }
            }

            _wakeScheduler.Writer.TryWrite(true);
            while (await call.ResponseStream.MoveNext(stream.Token).ConfigureAwait(false))
            {
                answered = true;
                Handle(call.ResponseStream.Current);
            }
        }
        catch (Exception) when (!stop.IsCancellationRequested)
        {
            // The stream broke (member restart, connection reset, not the leader): reconnect in the caller.
        }
        catch (Exception)
        {
            // Client disposed.
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(_stream, stream))
                {
                    _writer = null;
                    _stream = null;
                }
            }

            CancelQuietly(stream);
            call?.Dispose();
        }

        return answered;
    }

    private void Handle(LeaseKeepAliveResponse response)
    {
        List<KeepAliveRegistration> parties;
        bool gone;
        lock (_gate)
        {
            if (!_leases.TryGetValue(response.ID, out var lease))
            {
                return;
            }

            parties = [.. lease.Parties];
            gone = response.TTL <= 0;
            if (gone)
            {
                _leases.Remove(response.ID);
            }
            else
            {
                var now = _clock.GetUtcNow();
                var ttl = TimeSpan.FromSeconds(response.TTL);
                lease.Deadline = (lease.FirstUnansweredSend ?? now) + ttl;
                lease.FirstUnansweredSend = null;
                lease.NextSend = now + (ttl / 3);
            }
        }

        if (gone)
        {
            foreach (var party in parties)
            {
                party.End(LeaseLostReason.NotFound);
            }

            return;
        }

        var answer = new LeaseKeepAliveResult(response.Header?.Revision ?? 0, response.ID, response.TTL);
        foreach (var party in parties)
        {
            party.Deliver(answer);
        }
    }

    private static void CancelQuietly(CancellationTokenSource? source)
    {
        try
        {
            source?.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>One lease being kept alive, with everyone who wants it kept alive.</summary>
    private sealed class KeptLease(long id)
    {
        public long Id { get; } = id;

        public DateTimeOffset NextSend { get; set; }

        public DateTimeOffset Deadline { get; set; }

        /// <summary>Send time of the oldest renewal not answered yet: the answer's TTL counts from here.</summary>
        public DateTimeOffset? FirstUnansweredSend { get; set; }

        public List<KeepAliveRegistration> Parties { get; } = [];
    }
}

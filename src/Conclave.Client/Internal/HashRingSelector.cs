namespace Conclave.Client.Internal;

/// <summary>
/// Gives each client instance a stable home member from a <see cref="HashRing"/> over the endpoint addresses, so
/// clients spread over the members and only the clients of a dead member move (DESIGN.md decision 8).
/// </summary>
/// <remarks>
/// <para>
/// The client walks its preference order (home, then the next distinct members clockwise). A transport failure
/// marks that endpoint down; if it was the current one, the client moves to the next endpoint clockwise that is
/// not marked down (or, when all are, simply the next one, so calls keep trying every member in turn).
/// </para>
/// <para>
/// Each endpoint marked down gets one background probe that asks it for its status after a jittered, growing
/// delay (<see cref="ConclaveClientOptions.RetryBaseDelay"/> doubling up to <see cref="ConclaveClientOptions.RetryMaxDelay"/>,
/// on the client's <see cref="TimeProvider"/>) until it answers as healthy. A healthy endpoint earlier in the
/// preference order than the current one becomes current again: that is how a client returns home. So a client
/// probes at most one endpoint per dead member, never busily, and not at all while everything works. Streams
/// already open (watch, keep-alive) stay where they are until they break; new calls go home.
/// </para>
/// </remarks>
internal sealed class HashRingSelector : EndpointSelector
{
    private readonly ClientEndpoint[] _all;
    private readonly ClientEndpoint[] _order;
    private readonly bool[] _down;
    private readonly Func<ClientEndpoint, CancellationToken, Task<bool>> _probe;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _probeBaseDelay;
    private readonly TimeSpan _probeMaxDelay;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private int _current;
    private bool _stopped;

    /// <param name="endpoints">The endpoints, in configuration order.</param>
    /// <param name="instanceId">This client's position on the ring.</param>
    /// <param name="probe">Answers whether an endpoint marked down is healthy again; exceptions count as "no".</param>
    /// <param name="clock">Clock for the probe delays.</param>
    /// <param name="probeBaseDelay">First delay before probing a down endpoint; it doubles after every failed probe.</param>
    /// <param name="probeMaxDelay">Upper bound of the probe delay.</param>
    public HashRingSelector(
        IReadOnlyList<ClientEndpoint> endpoints,
        string instanceId,
        Func<ClientEndpoint, CancellationToken, Task<bool>> probe,
        TimeProvider clock,
        TimeSpan probeBaseDelay,
        TimeSpan probeMaxDelay)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(instanceId);
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(endpoints));
        }

        _all = [.. endpoints];
        Ring = new HashRing([.. _all.Select(static e => e.Address)]);
        _order = [.. Ring.PreferenceOrder(instanceId).Select(i => _all[i])];
        _down = new bool[_order.Length];
        _probe = probe;
        _clock = clock;
        _probeBaseDelay = probeBaseDelay;
        _probeMaxDelay = probeMaxDelay;
    }

    public override IReadOnlyList<ClientEndpoint> All => _all;

    public override ClientEndpoint Current => _order[Volatile.Read(ref _current)];

    /// <summary>The ring over the endpoint addresses.</summary>
    public HashRing Ring { get; }

    /// <summary>This client's home endpoint.</summary>
    public ClientEndpoint Home => _order[0];

    /// <summary>The endpoints in the order this client uses them: home first, then clockwise.</summary>
    public IReadOnlyList<ClientEndpoint> PreferenceOrder => _order;

    /// <summary>Whether <paramref name="endpoint"/> is marked down (waiting for its probe to succeed).</summary>
    public bool IsMarkedDown(ClientEndpoint endpoint)
    {
        lock (_gate)
        {
            var rank = Array.IndexOf(_order, endpoint);
            return rank >= 0 && _down[rank];
        }
    }

    public override void ReportFailure(ClientEndpoint endpoint)
    {
        var rank = Array.IndexOf(_order, endpoint);
        if (rank < 0 || _order.Length == 1)
        {
            // With one endpoint there is nowhere to move and nothing to come back to.
            return;
        }

        bool startProbe;
        CancellationToken stop;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            stop = _stop.Token;
            startProbe = !_down[rank];
            _down[rank] = true;

            // Only the first of several concurrent failures of the current endpoint moves the client.
            if (rank == _current)
            {
                _current = NextAfter(rank);
            }
        }

        if (startProbe)
        {
            _ = ProbeUntilHealthyAsync(rank, stop);
        }
    }

    protected override void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            _stop.Cancel();
        }

        _stop.Dispose();
    }

    // The next endpoint clockwise that is not marked down; when all are, the next one anyway.
    private int NextAfter(int rank)
    {
        for (var step = 1; step < _order.Length; step++)
        {
            var candidate = (rank + step) % _order.Length;
            if (!_down[candidate])
            {
                return candidate;
            }
        }

        return (rank + 1) % _order.Length;
    }

    private async Task ProbeUntilHealthyAsync(int rank, CancellationToken stop)
    {
        var endpoint = _order[rank];
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Task.Delay(Backoff.Delay(attempt, _probeBaseDelay, _probeMaxDelay), _clock, stop).ConfigureAwait(false);
                if (await _probe(endpoint, stop).ConfigureAwait(false))
                {
                    MarkHealthy(rank);
                    return;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Not healthy yet (refused, timed out, no leader): try again after a longer delay.
            }
        }
    }

    private void MarkHealthy(int rank)
    {
        lock (_gate)
        {
            _down[rank] = false;

            // Closer to home than where the client is now (or the current one is down too): go there.
            if (rank < _current || _down[_current])
            {
                Volatile.Write(ref _current, rank);
            }
        }
    }
}

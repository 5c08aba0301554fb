namespace Conclave.Client.Internal;

/// <summary>Uses the endpoints in configuration order: stays on one until it fails, then moves to the next.</summary>
internal sealed class OrderedFailoverSelector : EndpointSelector
{
    private readonly ClientEndpoint[] _endpoints;
    private int _current;

    public OrderedFailoverSelector(IReadOnlyList<ClientEndpoint> endpoints)
    {
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(endpoints));
        }

        _endpoints = [.. endpoints];
    }

    public override IReadOnlyList<ClientEndpoint> All => _endpoints;

    public override ClientEndpoint Current => _endpoints[Volatile.Read(ref _current)];

    public override void ReportFailure(ClientEndpoint endpoint)
    {
        var index = Array.IndexOf(_endpoints, endpoint);
        if (index < 0)
        {
            return;
        }

        // Only the first of several concurrent failures of the same endpoint moves the cursor.
        Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
    }
}

namespace Conclave.Client.Internal;

/// <summary>
/// Decides which endpoint a call goes to and where to go after a failure. Unary calls, the watch stream and the
/// keep-alive stream all ask <see cref="Current"/> before they dial and call <see cref="ReportFailure"/> when the
/// transport fails, so the policy lives here alone (today: <see cref="HashRingSelector"/>).
/// </summary>
internal abstract class EndpointSelector : IDisposable
{
    /// <summary>Every configured endpoint, in configuration order.</summary>
    public abstract IReadOnlyList<ClientEndpoint> All { get; }

    /// <summary>The endpoint the next call should use.</summary>
    public abstract ClientEndpoint Current { get; }

    /// <summary>Reports that a call to <paramref name="endpoint"/> failed at the transport level.</summary>
    public abstract void ReportFailure(ClientEndpoint endpoint);

    public void Dispose()
    {
        Stop();
        foreach (var endpoint in All)
        {
            endpoint.Dispose();
        }
    }

    /// <summary>Stops background work (health probes) before the endpoints' channels are closed.</summary>
    protected virtual void Stop()
    {
    }
}

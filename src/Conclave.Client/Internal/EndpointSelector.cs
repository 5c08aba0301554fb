namespace Conclave.Client.Internal;

/// <summary>
/// Decides which endpoint a call goes to and where to go after a failure. The seam where the consistent-hash
/// ring (a stable home member per client instance) will plug in.
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
        foreach (var endpoint in All)
        {
            endpoint.Dispose();
        }
    }
}

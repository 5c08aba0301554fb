using Conclave.Client;

namespace Conclave.Client.Tests.Fixtures;

/// <summary>
/// A running etcd-v3-speaking server for the client conformance tests: a real etcd today, a Conclave node or
/// cluster later. One instance serves one test class.
/// </summary>
public abstract class KvEndpointFixture : IAsyncLifetime
{
    /// <summary>Client URLs of the running server.</summary>
    public abstract IReadOnlyList<string> Endpoints { get; }

    /// <summary>Kills the server abruptly (no graceful shutdown) and starts it again on the same data and ports.</summary>
    public abstract Task KillAndRestartAsync(CancellationToken cancellationToken);

    /// <summary>Diagnostic output of the server, for assertion messages.</summary>
    public virtual string Diagnostics => string.Empty;

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    public ConclaveClient CreateClient(Func<ConclaveClientOptions, ConclaveClientOptions>? configure = null)
    {
        var options = new ConclaveClientOptions
        {
            Endpoints = Endpoints,
            RequestTimeout = TimeSpan.FromSeconds(5),
            DialTimeout = TimeSpan.FromSeconds(2),
            RetryMaxDelay = TimeSpan.FromMilliseconds(500),
        };
        return new ConclaveClient(configure is null ? options : configure(options));
    }
}

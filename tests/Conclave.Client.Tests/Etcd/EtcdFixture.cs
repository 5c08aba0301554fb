using Conclave.Client.Tests.Fixtures;

namespace Conclave.Client.Tests.Etcd;

/// <summary>The conformance fixture backed by a real etcd 3.4 process.</summary>
public sealed class EtcdFixture : KvEndpointFixture
{
    private EtcdProcess? _etcd;

    public override IReadOnlyList<string> Endpoints => [Etcd.ClientUrl];

    public override string Diagnostics => _etcd?.Log ?? string.Empty;

    private EtcdProcess Etcd => _etcd ?? throw new InvalidOperationException("etcd is not running.");

    public override async Task InitializeAsync()
    {
        _etcd = await EtcdProcess.StartAsync(CancellationToken.None);
    }

    public override Task KillAndRestartAsync(CancellationToken cancellationToken) => Etcd.KillAndRestartAsync(cancellationToken);

    public override async Task DisposeAsync()
    {
        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }
    }
}

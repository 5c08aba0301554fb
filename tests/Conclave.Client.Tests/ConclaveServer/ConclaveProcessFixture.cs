using Conclave.Client.Tests.Fixtures;
using Conclave.Testing;

namespace Conclave.Client.Tests.ConclaveServer;

/// <summary>The conformance fixture backed by a real <c>conclave serve</c> process (one member).</summary>
public sealed class ConclaveProcessFixture : KvEndpointFixture
{
    private TempDirectory? directory;
    private NodeProcess? node;

    public override IReadOnlyList<string> Endpoints => [Node.Endpoint];

    private NodeProcess Node => node ?? throw new InvalidOperationException("conclave is not running.");

    public override async Task InitializeAsync()
    {
        directory = TempDirectory.Create("conclave-cli-");
        node = await NodeProcess.StartAsync(directory.Combine("node"));
    }

    public override async Task KillAndRestartAsync(CancellationToken cancellationToken)
    {
        Node.Kill();
        await Node.RestartAsync(cancellationToken);
    }

    public override async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }

        directory?.Dispose();
    }
}

/// <summary>The CLI conformance tests against Conclave (the same tests run against etcd in EtcdCliTests).</summary>
public sealed class ConclaveCliTests(ConclaveProcessFixture fixture) : Cli.CliConformanceTests(fixture), IClassFixture<ConclaveProcessFixture>;

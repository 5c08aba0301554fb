namespace Conclave.Bench.Tests.Lean;

/// <summary>One in-process Conclave member for a test class.</summary>
public sealed class ConclaveNodeFixture : IKvEndpoint, IAsyncLifetime
{
    private TestNode? _node;

    public string Endpoint => _node?.Endpoint ?? throw new InvalidOperationException("The node is not running.");

    public async Task InitializeAsync() => _node = await TestNode.StartInProcessAsync();

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

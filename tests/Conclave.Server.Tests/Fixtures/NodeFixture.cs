namespace Conclave.Server.Tests.Fixtures;

/// <summary>One in-process node shared by the tests of a class (they run one after another; keys are unique per test).</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    private TestNode? node;

    public TestNode Node => node ?? throw new InvalidOperationException("the node is not started");

    public string Endpoint => Node.Endpoint;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync();

    public async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }
}

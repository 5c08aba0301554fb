using Conclave.Client;

namespace Conclave.Concurrency.Tests.Fixtures;

/// <summary>One in-process node on the real clock, shared by the tests of a class (names are unique per test).</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    private TestNode? node;

    public TestNode Node => node ?? throw new InvalidOperationException("the node is not started");

    public string Endpoint => Node.Endpoint;

    /// <summary>A client of the node; the caller disposes it.</summary>
    public ConclaveClient CreateClient() => new(new ConclaveClientOptions { Endpoints = [Endpoint], RequestTimeout = TimeSpan.FromSeconds(15) });

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync();

    public async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }
}

using Conclave.Client;

namespace Conclave.Concurrency.Tests.Fixtures;

/// <summary>
/// Base for tests that drive lease expiry by hand: a fresh in-process node per test whose lease clock is a
/// <see cref="ManualClock"/>, and a client of it.
/// </summary>
public abstract class ManualClockNodeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode? node;
    private ConclaveClient? client;

    protected ManualClock Clock { get; } = new();

    protected ConclaveClient Client => client ?? throw new InvalidOperationException("the node is not started");

    protected TestNode Node => node ?? throw new InvalidOperationException("the node is not started");

    public async Task InitializeAsync()
    {
        node = await TestNode.StartInProcessAsync(output, o => o with { TimeProvider = Clock });
        client = new ConclaveClient(node.Endpoint);
    }

    public async Task DisposeAsync()
    {
        if (client is not null)
        {
            await client.DisposeAsync();
        }

        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }
}

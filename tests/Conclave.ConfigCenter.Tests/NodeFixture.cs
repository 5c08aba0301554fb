using Conclave.ConfigCenter.Model;
using Conclave.Server.Config;
using Conclave.Server.Leases;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.ConfigCenter.Tests;

/// <summary>One real in-process member per test class, with the center's services over its local port.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;

    public ConfigCenterService Center { get; private set; } = null!;

    public DeliveryService Delivery { get; private set; } = null!;

    public ConfigRemovalService Removal { get; private set; } = null!;

    public static ChangeContext Alice { get; } = new("alice", "test");

    public async Task InitializeAsync()
    {
        Node = await TestNode.StartInProcessAsync();
        var node = Node.Server.Node;
        var port = new LocalKeyValuePort(node, new LeaseKeeper(node, NullLogger<LeaseKeeper>.Instance));
        Center = new ConfigCenterService(port);
        Delivery = new DeliveryService(port);
        Removal = new ConfigRemovalService(port);
    }

    public async Task DisposeAsync() => await Node.DisposeAsync();

    /// <summary>A fresh app with one environment, so tests sharing the node never collide.</summary>
    public async Task<string> NewAppAsync(string env = "DEV")
    {
        var app = "app-" + Guid.NewGuid().ToString("N")[..10];
        await Center.CreateAppAsync(app, null, "team", Alice);
        await Center.CreateEnvironmentAsync(app, env, Alice);
        return app;
    }
}

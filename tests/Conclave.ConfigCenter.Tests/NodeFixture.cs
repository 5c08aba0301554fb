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
        var port = NewPort();
        Center = new ConfigCenterService(port);
        Delivery = new DeliveryService(port);
        Removal = new ConfigRemovalService(port);
    }

    public async Task DisposeAsync() => await Node.DisposeAsync();

    /// <summary>A new local port over the node (its own lease keeper), for a service a test builds with its own options.</summary>
    public LocalKeyValuePort NewPort() => new(Node.Server.Node, new LeaseKeeper(Node.Server.Node, NullLogger<LeaseKeeper>.Instance));

    /// <summary>A fresh app with one environment, so tests sharing the node never collide.</summary>
    public async Task<string> NewAppAsync(string env = "DEV")
    {
        var app = "app-" + Guid.NewGuid().ToString("N")[..10];
        await Center.CreateAppAsync(app, null, "team", Alice);
        await Center.CreateEnvironmentAsync(app, env, Alice);
        return app;
    }
}

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>One real in-process member per test class; each test makes its own app so tests never collide.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await TestNode.StartInProcessAsync();

    public async Task DisposeAsync() => await Node.DisposeAsync();

    /// <summary>A fresh app with environment PRO and the given namespaces (name, format).</summary>
    public async Task<CenterAdmin> NewAppAsync(params (string Name, string Format)[] namespaces)
    {
        var admin = new CenterAdmin(Node.HttpUrl, CenterAdmin.NewAppId());
        await admin.CreateAppAsync();
        foreach (var (name, format) in namespaces)
        {
            await admin.CreateNamespaceAsync(name, format);
        }

        return admin;
    }
}

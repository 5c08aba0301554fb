using System.Security.Cryptography;
using Conclave.ConfigCenter.Secrets;

namespace Conclave.Cli.Tests.Config;

/// <summary><c>conclave config item set --secret</c>, <c>item list [--reveal]</c> and <c>keys rotate</c> against a member with a master key.</summary>
public sealed class ConfigSecretCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() =>
        node = await TestNode.StartInProcessAsync(output, o => o with { ConfigMasterKeys = new LocalMasterKeys([RandomNumberGenerator.GetBytes(32)]) });

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task A_secret_is_set_masked_revealed_and_its_key_rotated()
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", "shop");
        await cli.OkAsync("env", "create", "PRO", "-a", "shop");
        await cli.OkAsync("ns", "create", "application", "-a", "shop", "-e", "PRO");
        Assert.Contains("(secret)", await cli.OkAsync("item", "set", "db.password", "hunter2", "--secret", "-a", "shop", "-e", "PRO", "-n", "application"), StringComparison.Ordinal);
        await cli.OkAsync("item", "set", "db.user", "app", "-a", "shop", "-e", "PRO", "-n", "application");

        var masked = await cli.OkAsync("item", "list", "-a", "shop", "-e", "PRO", "-n", "application");
        Assert.Contains("******", masked, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", masked, StringComparison.Ordinal);
        Assert.Contains("hunter2", await cli.OkAsync("item", "list", "--reveal", "-a", "shop", "-e", "PRO", "-n", "application"), StringComparison.Ordinal);
        Assert.Contains("created secret namespace", await cli.OkAsync("ns", "create", "vault", "-f", "text", "--secret", "-a", "shop", "-e", "PRO"), StringComparison.Ordinal);

        Assert.Contains("data keys re-wrapped", await cli.OkAsync("keys", "rotate"), StringComparison.Ordinal);
    }
}

using System.Text.Json;

namespace Conclave.Cli.Tests.Config;

/// <summary><c>conclave config credentials create|list|revoke</c> against a real in-process member.</summary>
public sealed class ConfigCredentialCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Create_prints_the_key_once_list_never_shows_it_a_third_is_refused_and_revoke_frees_a_slot()
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", "shop");
        await cli.OkAsync("env", "create", "PRO", "--app", "shop");
        var at = new[] { "-a", "shop", "-e", "PRO" };

        var created = await cli.OkAsync([.. at, "credentials", "create", "--name", "pods"]);
        var key = created.Split('\n').Select(l => l.Trim()).Single(l => l.Length == 56 && l[12] == '.');
        var first = JsonDocument.Parse(await cli.OkAsync([.. at, "credentials", "create", "--name", "pods 2", "-o", "json"])).RootElement;
        Assert.Equal(56, first.GetProperty("accessKey").GetString()!.Length);

        var list = await cli.OkAsync([.. at, "credentials", "list"]);
        Assert.Contains("| pods ", list, StringComparison.Ordinal);
        Assert.Contains("..." + key[^4..], list, StringComparison.Ordinal);
        Assert.DoesNotContain(key[13..], list, StringComparison.Ordinal);

        var (code, _, error) = await cli.RunAsync([.. at, "credentials", "create", "--name", "third"]);
        Assert.Equal(1, code);
        Assert.Contains("412", error, StringComparison.Ordinal);
        Assert.Contains(key[..12], error, StringComparison.Ordinal);

        Assert.Contains($"Revoked credential {key[..12]}", await cli.OkAsync([.. at, "credentials", "revoke", key[..12]]), StringComparison.Ordinal);
        await cli.OkAsync([.. at, "credentials", "create", "--name", "third"]);
    }
}

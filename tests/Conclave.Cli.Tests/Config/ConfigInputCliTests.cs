using System.Text.Json;

namespace Conclave.Cli.Tests.Config;

/// <summary>
/// What a new user's audit found in <c>conclave config</c> (issue 22, item 4), against a real in-process member: guards
/// on every change that moves releases, a confirmed namespace delete, comments kept, <c>--api</c> as <c>host:port</c>,
/// and errors that say what happened (a body over the limit, the gRPC port given as <c>--api</c>).
/// </summary>
public sealed class ConfigInputCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync() => await node.DisposeAsync();

    private async Task<(ConfigCli Cli, string[] At)> NamespaceAsync(string app)
    {
        var cli = new ConfigCli(node);
        await cli.OkAsync("app", "create", app);
        await cli.OkAsync("env", "create", "PRO", "-a", app);
        await cli.OkAsync("ns", "create", "application", "-a", app, "-e", "PRO");
        return (cli, ["-a", app, "-e", "PRO", "-n", "application"]);
    }

    private async Task<long> RevisionAsync(ConfigCli cli, string app) =>
        JsonDocument.Parse(await cli.OkAsync("ns", "get", "application", "-a", app, "-e", "PRO", "-o", "json")).RootElement.GetProperty("revision").GetInt64();

    [Fact]
    public async Task Item_set_without_a_comment_keeps_the_comment()
    {
        var (cli, at) = await NamespaceAsync("comments");
        await cli.OkAsync([.. at, "item", "set", "port", "8080", "--comment", "http port"]);
        await cli.OkAsync([.. at, "item", "set", "port", "9090"]);
        var item = JsonDocument.Parse(await cli.OkAsync([.. at, "item", "list", "-o", "json"])).RootElement.EnumerateArray().Single();
        Assert.Equal("9090", item.GetProperty("value").GetString());
        Assert.Equal("http port", item.GetProperty("comment").GetString());

        await cli.OkAsync([.. at, "item", "set", "port", "9091", "--comment", "moved"]);
        item = JsonDocument.Parse(await cli.OkAsync([.. at, "item", "list", "-o", "json"])).RootElement.EnumerateArray().Single();
        Assert.Equal("moved", item.GetProperty("comment").GetString());
    }

    [Fact]
    public async Task Rollback_and_gray_commands_take_expect_revision_and_refuse_a_negative_one()
    {
        var (cli, at) = await NamespaceAsync("guards");
        await cli.OkAsync([.. at, "item", "set", "port", "8080"]);
        await cli.OkAsync([.. at, "release", "publish"]);
        await cli.OkAsync([.. at, "item", "set", "port", "9090"]);
        await cli.OkAsync([.. at, "release", "publish"]);
        var read = await RevisionAsync(cli, "guards");
        await cli.OkAsync([.. at, "item", "set", "other", "1"]); // someone else's change after the read

        foreach (var command in new[] { new[] { "rollback", "--to", "1" }, ["gray", "publish", "-p", "10"] })
        {
            var (negative, _, why) = await cli.RunAsync([.. at, .. command, "--expect-revision", "-1"]);
            Assert.True(negative == 1, $"{string.Join(' ', command)} --expect-revision -1: {why}");
            Assert.Contains("--expect-revision", why, StringComparison.Ordinal);
            var (stale, _, staleWhy) = await cli.RunAsync([.. at, .. command, "--expect-revision", read.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.Equal(1, stale);
            Assert.Contains("409", staleWhy, StringComparison.Ordinal);
        }

        Assert.Contains("restores release 1", await cli.OkAsync([.. at, "rollback", "--to", "1", "--keep-edits", "--expect-revision", (await RevisionAsync(cli, "guards")).ToString(System.Globalization.CultureInfo.InvariantCulture)]), StringComparison.Ordinal);
        await cli.OkAsync([.. at, "gray", "publish", "-p", "10", "--expect-revision", (await RevisionAsync(cli, "guards")).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var grayRead = await RevisionAsync(cli, "guards");
        await cli.OkAsync([.. at, "gray", "rule", "-p", "20"]);
        foreach (var command in new[] { new[] { "gray", "rule", "-p", "30" }, ["gray", "promote"], ["gray", "abandon"] })
        {
            var (stale, _, why) = await cli.RunAsync([.. at, .. command, "--expect-revision", grayRead.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.True(stale == 1 && why.Contains("409", StringComparison.Ordinal), $"{string.Join(' ', command)}: {why}");
            (stale, _, why) = await cli.RunAsync([.. at, .. command, "--expect-revision", "-5"]);
            Assert.True(stale == 1 && why.Contains("--expect-revision", StringComparison.Ordinal), $"{string.Join(' ', command)} -5: {why}");
        }

        Assert.Contains("main release is", await cli.OkAsync([.. at, "gray", "promote", "--expect-revision", (await RevisionAsync(cli, "guards")).ToString(System.Globalization.CultureInfo.InvariantCulture)]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ns_delete_asks_first_guards_the_revision_and_refuses_while_a_gray_release_runs()
    {
        var (cli, at) = await NamespaceAsync("deletes");
        await cli.OkAsync([.. at, "item", "set", "port", "8080"]);
        await cli.OkAsync([.. at, "release", "publish"]);
        await cli.OkAsync([.. at, "gray", "publish", "-p", "10"]);

        // The test host's standard input is not a terminal: without --yes nobody can be asked, so nothing is deleted.
        var (unconfirmed, _, why) = await cli.RunAsync("ns", "delete", "application", "-a", "deletes", "-e", "PRO");
        Assert.Equal(1, unconfirmed);
        Assert.Contains("pass --yes to confirm", why, StringComparison.Ordinal);

        var (gray, _, grayWhy) = await cli.RunAsync("ns", "delete", "application", "-a", "deletes", "-e", "PRO", "--yes");
        Assert.Equal(1, gray);
        Assert.Contains("412", grayWhy, StringComparison.Ordinal);
        Assert.Contains("gray release running", grayWhy, StringComparison.Ordinal);

        var (negative, _, negativeWhy) = await cli.RunAsync("ns", "delete", "application", "-a", "deletes", "-e", "PRO", "--yes", "--force", "--expect-revision", "-1");
        Assert.True(negative == 1 && negativeWhy.Contains("--expect-revision", StringComparison.Ordinal), negativeWhy);
        var read = await RevisionAsync(cli, "deletes");
        await cli.OkAsync([.. at, "item", "set", "port", "9090"]);
        var (stale, _, staleWhy) = await cli.RunAsync("ns", "delete", "application", "-a", "deletes", "-e", "PRO", "--yes", "--force", "--expect-revision", read.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(stale == 1 && staleWhy.Contains("409", StringComparison.Ordinal), staleWhy);
        Assert.Contains("application", await cli.OkAsync("ns", "list", "-a", "deletes", "-e", "PRO"), StringComparison.Ordinal);

        Assert.Contains("deleted namespace deletes/PRO/application", await cli.OkAsync("ns", "delete", "application", "-a", "deletes", "-e", "PRO", "--yes", "--force"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_takes_host_and_port_and_says_when_it_is_the_grpc_port()
    {
        var hostPort = new Uri(node.HttpUrl).Authority;
        Assert.Contains("created app hostport", await new ConfigCli(node, api: hostPort).OkAsync("app", "create", "hostport"), StringComparison.Ordinal);

        var (code, _, error) = await new ConfigCli(node, api: node.Endpoint).RunAsync("app", "list");
        Assert.Equal(1, code);
        Assert.Contains("is a gRPC port", error, StringComparison.Ordinal);
        Assert.Contains("--listen-http-urls", error, StringComparison.Ordinal);
        (code, _, error) = await new ConfigCli(node, api: new Uri(node.Endpoint).Authority).RunAsync("app", "list");
        Assert.True(code == 1 && error.Contains("is a gRPC port", StringComparison.Ordinal), error);
    }

    [Fact]
    public async Task A_document_over_the_members_limit_is_reported_as_too_large_not_unreachable()
    {
        var (cli, _) = await NamespaceAsync("big");
        await cli.OkAsync("ns", "create", "notes", "-f", "text", "-a", "big", "-e", "PRO");
        var file = Path.Combine(Path.GetTempPath(), $"conclave-big-{Guid.NewGuid():N}.txt");
        try
        {
            await File.WriteAllTextAsync(file, new string('x', 10 * 1024 * 1024));
            var (code, _, error) = await cli.RunAsync("ns", "set-content", "notes", "-a", "big", "-e", "PRO", "--file", file);
            Assert.Equal(1, code);
            Assert.Contains("413 too large", error, StringComparison.Ordinal);
            Assert.DoesNotContain("cannot reach", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

namespace Conclave.Cli.Tests.Config;

/// <summary>
/// The docs' walk-through with the real CLI (issue 22 item 1): roll back a bad port, and the next gray release ships only
/// the new edit; every publish path prints the diff it ships first (--dry-run stops there); discard; unpublished edits.
/// </summary>
public sealed class ConfigRollbackCommandTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestNode node = null!;

    public async Task InitializeAsync() => node = await TestNode.StartInProcessAsync(output);

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Rollback_sticks_and_every_publish_path_shows_what_it_ships()
    {
        var cli = new ConfigCli(node);
        string[] ns = ["-a", "shop", "-e", "PRO", "-n", "application"];
        await cli.OkAsync("app", "create", "shop");
        await cli.OkAsync("env", "create", "PRO", "-a", "shop");
        await cli.OkAsync("ns", "create", "application", "-a", "shop", "-e", "PRO");
        await cli.OkAsync(["item", "set", "port", "8080", .. ns]);
        var first = await cli.OkAsync(["release", "publish", "-t", "r1", .. ns]);
        Assert.Contains("these changes ship to every instance", first, StringComparison.Ordinal);
        Assert.Contains("port", first, StringComparison.Ordinal);

        await cli.OkAsync(["item", "set", "port", "9090", .. ns]);
        var dry = await cli.OkAsync(["release", "publish", "--dry-run", .. ns]);
        Assert.Contains("8080", dry, StringComparison.Ordinal);
        Assert.Contains("9090", dry, StringComparison.Ordinal);
        Assert.DoesNotContain("published release", dry, StringComparison.Ordinal);
        await cli.OkAsync(["release", "publish", "-t", "r2", .. ns]);

        // The rollback shows 9090 -> 8080, and resets the working copy.
        var rollback = await cli.OkAsync(["rollback", "--to", "1", "-m", "9090 is bad", .. ns]);
        Assert.Contains("release 3 restores release 1", rollback, StringComparison.Ordinal);
        Assert.Contains("9090", rollback, StringComparison.Ordinal);
        Assert.Contains("no differences", await cli.OkAsync(["diff", .. ns]), StringComparison.Ordinal);

        // The next gray release ships the new edit and nothing else.
        await cli.OkAsync(["item", "set", "timeout", "5s", .. ns]);
        var gray = await cli.OkAsync(["gray", "publish", "--percentage", "10", .. ns]);
        Assert.Contains("timeout", gray, StringComparison.Ordinal);
        Assert.DoesNotContain("9090", gray, StringComparison.Ordinal);
        var promote = await cli.OkAsync(["gray", "promote", "--dry-run", .. ns]);
        Assert.Contains("timeout", promote, StringComparison.Ordinal);
        Assert.DoesNotContain("promoted", promote, StringComparison.Ordinal);
        Assert.Contains("promoted: main release is 4", await cli.OkAsync(["gray", "promote", .. ns]), StringComparison.Ordinal);

        // Unpublished edits: a rollback refuses, naming them, until told; discard drops them.
        await cli.OkAsync(["item", "set", "retries", "3", .. ns]);
        var (code, _, error) = await cli.RunAsync(["rollback", "--to", "1", .. ns]);
        Assert.NotEqual(0, code);
        Assert.Contains("retries", error, StringComparison.Ordinal);
        Assert.Contains("--discard-edits", error, StringComparison.Ordinal);
        Assert.Contains("retries", await cli.OkAsync(["discard", .. ns]), StringComparison.Ordinal);
        Assert.Contains("no differences", await cli.OkAsync(["diff", .. ns]), StringComparison.Ordinal);
        await cli.OkAsync(["item", "set", "retries", "3", .. ns]);
        await cli.OkAsync(["rollback", "--to", "1", "--keep-edits", .. ns]);
        Assert.Contains("retries", await cli.OkAsync(["diff", .. ns]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rollout_plan_starts_shows_pauses_resumes_and_aborts_from_the_cli()
    {
        var cli = new ConfigCli(node);
        string[] ns = ["-a", "plans", "-e", "PRO", "-n", "application"];
        await cli.OkAsync("app", "create", "plans");
        await cli.OkAsync("env", "create", "PRO", "-a", "plans");
        await cli.OkAsync("ns", "create", "application", "-a", "plans", "-e", "PRO");
        await cli.OkAsync(["item", "set", "ranker", "bm25", .. ns]);
        await cli.OkAsync(["release", "publish", .. ns]);
        await cli.OkAsync(["item", "set", "ranker", "neural", .. ns]);

        var (code, _, error) = await cli.RunAsync(["gray", "publish", "--plan", "10%@5x,100%", .. ns]);
        Assert.NotEqual(0, code);
        Assert.Contains("bake time", error, StringComparison.Ordinal);

        var started = await cli.OkAsync(["gray", "publish", "--plan", "canary", "--max-rejected", "2", "--min-reports", "10", .. ns]);
        Assert.Contains("rolling out by plan canary", started, StringComparison.Ordinal);
        var shown = await cli.OkAsync(["gray", "plan", .. ns]);
        Assert.Contains("running, step 1 of 4", shown, StringComparison.Ordinal);
        Assert.Contains("halts past 2% rejected", shown, StringComparison.Ordinal);
        Assert.Contains("600s", shown, StringComparison.Ordinal);
        Assert.Contains("paused, step 1 of 4", await cli.OkAsync(["gray", "plan", "pause", .. ns]), StringComparison.Ordinal);
        Assert.Contains("paused, step 3 of 4", await cli.OkAsync(["gray", "plan", "skip", "--step", "3", .. ns]), StringComparison.Ordinal);
        Assert.Contains("running, step 3 of 4", await cli.OkAsync(["gray", "plan", "resume", .. ns]), StringComparison.Ordinal);
        var (refused, _, why) = await cli.RunAsync(["gray", "rule", "-p", "70", .. ns]);
        Assert.NotEqual(0, refused);
        Assert.Contains("rollout plan drives the gray rule", why, StringComparison.Ordinal);
        var aborted = await cli.OkAsync(["gray", "plan", "abort", "-m", "not now", .. ns]);
        Assert.Contains("aborted", aborted, StringComparison.Ordinal);
        Assert.Contains("not now", aborted, StringComparison.Ordinal);
        Assert.Contains("no active gray release", await cli.OkAsync(["gray", "status", .. ns]), StringComparison.Ordinal);
    }
}

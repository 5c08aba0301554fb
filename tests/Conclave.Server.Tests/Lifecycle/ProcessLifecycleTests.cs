using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Lifecycle;

/// <summary>Start-up and SIGTERM shutdown of the real <c>conclave serve</c> process.</summary>
public sealed class ProcessLifecycleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Serve_answers_health_and_restarts_on_its_data_after_sigterm()
    {
        using var directory = TempDirectory.Create("conclave-startup-");
        await using var node = await NodeProcess.StartAsync(directory.Combine("data"));
        var firstStart = node.StartupTime;
        var key = Keys.Unique("startup");
        (await Etcdctl.RunAsync(node.Endpoint, "put", key, "kept")).EnsureSuccess();

        var stop = await node.StopAsync(TimeSpan.FromSeconds(10));
        var exitCode = node.ExitCode;
        await node.RestartAsync();
        var get = await Etcdctl.RunAsync(node.Endpoint, "get", key, "--print-value-only");

        // Reported, not asserted: timings depend on the machine (target < 1 s warm).
        output.WriteLine($"startup to /health 200: fresh data dir {firstStart.TotalMilliseconds:F0} ms, restart {node.StartupTime.TotalMilliseconds:F0} ms; SIGTERM to exit (no watches) {stop.TotalMilliseconds:F0} ms");
        Assert.Equal(0, exitCode);
        Assert.Equal(["kept"], get.Lines);
    }

    [Fact]
    public async Task Sigterm_with_three_open_watch_streams_exits_within_two_seconds()
    {
        using var directory = TempDirectory.Create("conclave-shutdown-");
        await using var node = await NodeProcess.StartAsync(directory.Combine("data"));
        var p = Keys.Unique("shutdown");
        await using var watch1 = Etcdctl.Start(node.Endpoint, "watch", $"{p}/1");
        await using var watch2 = Etcdctl.Start(node.Endpoint, "watch", $"{p}/2");
        await using var watch3 = Etcdctl.Start(node.Endpoint, "watch", $"{p}/", "--prefix");
        await Metrics.WaitForWatchersAsync(node.HttpUrl, 3);
        (await Etcdctl.RunAsync(node.Endpoint, "put", $"{p}/1", "before-stop")).EnsureSuccess();
        await watch1.WaitForLinesAsync(["PUT", $"{p}/1", "before-stop"], TimeSpan.FromSeconds(20));

        var elapsed = await node.StopAsync(TimeSpan.FromSeconds(10));

        output.WriteLine($"SIGTERM to exit with 3 open watch streams: {elapsed.TotalMilliseconds:F0} ms (exit code {node.ExitCode})");
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"shutdown took {elapsed.TotalMilliseconds:F0} ms\n{node.ReadLog()}");
        Assert.Equal(0, node.ExitCode);
    }
}

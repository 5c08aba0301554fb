using System.Globalization;
using Xunit.Abstractions;

namespace Conclave.Bench.Tests;

/// <summary>
/// <c>conclave-bench put --latency-log</c> against a real member: one line per completed put, its completion time in
/// wall-clock seconds within the run and its latency, so bench/scale.sh can set puts beside the member's snapshots.
/// </summary>
public sealed class LatencyLogTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Put_writes_each_completed_request_with_its_wall_clock_completion_and_latency()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var log = Path.Combine(Path.GetTempPath(), $"conclave-latency-{Guid.NewGuid():N}.log");
        try
        {
            var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            var (exitCode, stdout, stderr) = await BenchRun.RunAsync(
                "put", "--endpoints", new Uri(node.Endpoint).Authority, "--clients", "4", "--total", "500", "--key-space-size", "50", "--latency-log", log);
            var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            output.WriteLine(stdout);
            output.WriteLine(stderr);
            Assert.Equal(0, exitCode);

            var lines = await File.ReadAllLinesAsync(log);
            Assert.Equal(500, lines.Length);
            foreach (var line in lines)
            {
                var fields = line.Split(' ');
                Assert.Equal(2, fields.Length);
                var completed = double.Parse(fields[0], CultureInfo.InvariantCulture);
                var latencyMs = double.Parse(fields[1], CultureInfo.InvariantCulture);
                Assert.InRange(completed, before - 0.01, after + 0.01);
                Assert.InRange(latencyMs, 0.0, (after - before) * 1000);
            }
        }
        finally
        {
            File.Delete(log);
        }
    }
}

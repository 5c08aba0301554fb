using System.Diagnostics;
using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Issue 18 item 6: a connection that opens streams and resets them at once (HTTP/2 rapid reset) must not make other
/// clients' puts more than twice as slow, and one that outruns the server is closed by it.
/// Latency is measured in several windows without the attacker, then in as many with it; the ratio is of the
/// medians over the windows, so one window disturbed by another process on a shared machine does not decide.
/// </summary>
[Collection(MemoryMeasuringCollection.Name)]
public sealed class RapidResetTests(ITestOutputHelper output)
{
    private const int Windows = 5;
    private static readonly int Callers = int.TryParse(Environment.GetEnvironmentVariable("RAPID_RESET_CALLERS"), out var c) ? c : 4;
    private const double MaxSlowdown = 2.0;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Streams the attacker opens and resets per second. The reviewer's member handled 19,000 a second while the
    /// attack lasted; before the fix this one handled 24,000 and fell behind. 50,000 is more than it could, yet
    /// little enough that the attacker itself, on the same two cores, costs other clients nothing measurable.
    /// </summary>
    private static readonly int AttackRate = int.TryParse(Environment.GetEnvironmentVariable("RAPID_RESET_RATE"), out var r) ? r : 50_000;

    [Fact]
    public async Task A_rapid_reset_connection_does_not_slow_other_clients_down_more_than_twice()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        await MeasureAsync(kv, TimeSpan.FromSeconds(1)); // warm-up: JIT, connection, log file

        var quiet = new List<(double P50, double P99)>();
        for (var window = 0; window < Windows; window++)
        {
            quiet.Add(await MeasureAsync(kv, Window));
            output.WriteLine($"quiet window {window}: p50 {quiet[^1].P50:F2} ms, p99 {quiet[^1].P99:F2} ms");
        }

        var attacked = new List<(double P50, double P99)>();
        var started = Stopwatch.StartNew();
        var attacker = RapidResetAttacker.Start(node.Endpoint, new Uri(node.Endpoint).Authority, AttackRate);
        try
        {
            await Eventually.WaitAsync(_ => Task.FromResult(attacker.Resets >= AttackRate / 2), Eventually.DefaultTimeout, "the attacker resets streams");
            for (var window = 0; window < Windows; window++)
            {
                var resetsBefore = attacker.Resets;
                attacked.Add(await MeasureAsync(kv, Window));
                output.WriteLine($"attacked window {window}: p50 {attacked[^1].P50:F2} ms, p99 {attacked[^1].P99:F2} ms; {attacker.Resets - resetsBefore} resets, {attacker.Connections} connections so far");
            }
        }
        finally
        {
            await attacker.DisposeAsync();
        }

        var p50 = Median(attacked, w => w.P50) / Median(quiet, w => w.P50);
        var p99 = Median(attacked, w => w.P99) / Median(quiet, w => w.P99);
        output.WriteLine($"median slowdown: p50 x{p50:F2}, p99 x{p99:F2}; {attacker.Resets / started.Elapsed.TotalSeconds:F0} resets/s on {attacker.Connections} connection(s); closed by the server: {Describe(attacker.GoAways)}");

        Assert.True(p50 <= MaxSlowdown, $"p50 put latency x{p50:F2} under attack");
        Assert.True(p99 <= MaxSlowdown, $"p99 put latency x{p99:F2} under attack");
    }

    [Fact]
    public async Task A_connection_that_resets_streams_faster_than_they_are_handled_is_closed()
    {
        // No pacing: the socket's back-pressure is the attacker's only limit, and it opens streams faster than the
        // member can hand them to the application. Kestrel closes such a connection once twice
        // --max-concurrent-streams of its streams are still queued (with 100,000 it never did).
        await using var node = await TestNode.StartInProcessAsync(output);
        var attacker = RapidResetAttacker.Start(node.Endpoint, new Uri(node.Endpoint).Authority, rate: 0);
        try
        {
            await Eventually.WaitAsync(_ => Task.FromResult(attacker.GoAways.Values.Sum() >= 3), Eventually.DefaultTimeout, "the member closes attacking connections");
        }
        finally
        {
            await attacker.DisposeAsync();
        }

        output.WriteLine($"{attacker.Resets} resets sent on {attacker.Connections} connections; closed by the server: {Describe(attacker.GoAways)}");
    }

    /// <summary><see cref="Callers"/> closed loops of puts for <paramref name="duration"/>; p50 and p99 in milliseconds.</summary>
    private static async Task<(double P50, double P99)> MeasureAsync(KV.KVClient kv, TimeSpan duration)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var latencies = await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            var key = ByteString.CopyFromUtf8($"rapid-reset/{caller}");
            var value = ByteString.CopyFromUtf8(new string('v', 256));
            var own = new List<double>();
            while (Stopwatch.GetTimestamp() < until)
            {
                var start = Stopwatch.GetTimestamp();
                await kv.PutAsync(new PutRequest { Key = key, Value = value }, deadline: DateTime.UtcNow.AddSeconds(30));
                own.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            return own;
        })));
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return (Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    private static double Median(List<(double P50, double P99)> windows, Func<(double P50, double P99), double> pick)
    {
        var values = windows.Select(pick).Order().ToArray();
        return values[values.Length / 2];
    }

    private static string Describe(IReadOnlyDictionary<string, int> goAways) =>
        goAways.Count == 0 ? "none" : string.Join(", ", goAways.Select(g => $"{g.Value} with GOAWAY {g.Key}"));
}

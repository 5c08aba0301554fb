using System.Diagnostics;

namespace Conclave.Bench;

/// <summary>Latency distribution in milliseconds (nearest-rank percentiles).</summary>
internal sealed record LatencySummary(long Count, double Average, double Min, double P50, double P90, double P99, double P999, double Max)
{
    public static LatencySummary From(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0);
        }

        Array.Sort(ticks);
        double sum = 0;
        foreach (var t in ticks)
        {
            sum += t;
        }

        return new LatencySummary(
            ticks.Length,
            Ms(sum / ticks.Length),
            Ms(ticks[0]),
            Ms(Percentile(ticks, 0.50)),
            Ms(Percentile(ticks, 0.90)),
            Ms(Percentile(ticks, 0.99)),
            Ms(Percentile(ticks, 0.999)),
            Ms(ticks[^1]));
    }

    private static long Percentile(long[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Ms(double ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

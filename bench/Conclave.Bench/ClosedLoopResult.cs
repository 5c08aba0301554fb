namespace Conclave.Bench;

/// <summary>Outcome of a closed-loop bench (each client sends its next request when the previous one returns).</summary>
internal sealed record ClosedLoopResult(long Succeeded, long Errors, TimeSpan Elapsed, LatencySummary Latency, IReadOnlyDictionary<string, long> ErrorKinds)
{
    /// <summary>CPU seconds the <c>--server-pid</c> process used from the first request to the last; null without it.</summary>
    public double? ServerCpuSeconds { get; init; }

    public double RequestsPerSecond => Elapsed.TotalSeconds > 0 ? Succeeded / Elapsed.TotalSeconds : 0;
}

namespace Conclave.Bench;

/// <summary>Outcome of <c>conclave-bench watch</c>.</summary>
internal sealed record WatchBenchResult(
    int Watchers,
    int Rate,
    ClosedLoopResult Puts,
    long ExpectedEvents,
    long ReceivedEvents,
    long Lost,
    int WatchersWithLoss,
    long Duplicates,
    long WatchErrors,
    LatencySummary Delivery,
    long? ServerRssKb = null)
{
    public double EventsPerSecond => Puts.Elapsed.TotalSeconds > 0 ? ReceivedEvents / Puts.Elapsed.TotalSeconds : 0;
}

namespace Conclave.Server.Tests.Http2;

/// <summary>
/// Samples the process's memory every few milliseconds from a baseline taken after a full collection, so a test can
/// assert how far an attack made it grow at its worst moment, not only after it ended. Two figures: the GC heap
/// (live and not yet collected objects: what the process holds, whatever earlier tests left committed) and the
/// resident set (which also sees memory outside the GC, but not growth into pages an earlier test left committed).
/// </summary>
internal sealed class MemoryPeak : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Task sampling;
    private readonly long heapBaseline;
    private readonly long residentBaseline;
    private long heapPeak;
    private long residentPeak;

    private MemoryPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        heapBaseline = heapPeak = GC.GetTotalMemory(forceFullCollection: false);
        residentBaseline = residentPeak = Environment.WorkingSet;
        sampling = Task.Run(SampleAsync);
    }

    /// <summary>Largest GC heap seen minus the baseline.</summary>
    public long HeapGrowth => Interlocked.Read(ref heapPeak) - heapBaseline;

    /// <summary>Largest resident set seen minus the baseline.</summary>
    public long ResidentGrowth => Interlocked.Read(ref residentPeak) - residentBaseline;

    /// <summary>The larger of the two growths.</summary>
    public long Growth => Math.Max(HeapGrowth, ResidentGrowth);

    public static MemoryPeak Start() => new();

    public override string ToString() => $"GC heap +{HeapGrowth / (1024 * 1024)} MiB, resident +{ResidentGrowth / (1024 * 1024)} MiB at the peak";

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await sampling;
        stop.Dispose();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        try
        {
            do
            {
                Raise(ref heapPeak, GC.GetTotalMemory(forceFullCollection: false));
                Raise(ref residentPeak, Environment.WorkingSet);
            }
            while (await timer.WaitForNextTickAsync(stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void Raise(ref long peak, long now)
    {
        if (now > Interlocked.Read(ref peak))
        {
            Interlocked.Exchange(ref peak, now);
        }
    }
}

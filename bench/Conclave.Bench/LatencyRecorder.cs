using System.Diagnostics;

namespace Conclave.Bench;

/// <summary>
/// Raw latency samples of one worker, in <see cref="Stopwatch"/> ticks. One recorder per worker, so recording is
/// a plain array store without locks; recorders are merged once at the end.
/// </summary>
internal sealed class LatencyRecorder(int capacity)
{
    private long[] _samples = new long[Math.Max(capacity, 16)];

    public int Count { get; private set; }

    public void Record(long ticks)
    {
        if (Count == _samples.Length)
        {
            Array.Resize(ref _samples, _samples.Length * 2);
        }

        _samples[Count++] = ticks;
    }

    /// <summary>
    /// Merges the samples recorded so far. Workers may still be recording (a late delivery after the run's end): each
    /// recorder's count is read once, so a sample recorded meanwhile is left out rather than overrunning the merge.
    /// </summary>
    public static LatencySummary Summarize(IEnumerable<LatencyRecorder?> recorders)
    {
        var taken = new List<(long[] Samples, int Count)>();
        foreach (var recorder in recorders)
        {
            if (recorder is not null)
            {
                // Count first: the array read after it holds at least that many samples (a resize copies them first).
                var count = recorder.Count;
                var samples = recorder._samples;
                taken.Add((samples, Math.Min(count, samples.Length)));
            }
        }

        var all = new long[taken.Sum(t => t.Count)];
        var offset = 0;
        foreach (var (samples, count) in taken)
        {
            Array.Copy(samples, 0, all, offset, count);
            offset += count;
        }

        return LatencySummary.From(all);
    }
}

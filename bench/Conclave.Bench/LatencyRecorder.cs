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

    public static LatencySummary Summarize(IEnumerable<LatencyRecorder?> recorders)
    {
        var total = 0;
        foreach (var recorder in recorders)
        {
            total += recorder?.Count ?? 0;
        }

        var all = new long[total];
        var offset = 0;
        foreach (var recorder in recorders)
        {
            if (recorder is not null)
            {
                Array.Copy(recorder._samples, 0, all, offset, recorder.Count);
                offset += recorder.Count;
            }
        }

        return LatencySummary.From(all);
    }
}

using System.Diagnostics;

namespace Conclave.Bench;

/// <summary>
/// Raw latency samples of one worker, in <see cref="Stopwatch"/> ticks. One recorder per worker, so recording is
/// a plain array store without locks; recorders are merged once at the end.
/// </summary>
internal sealed class LatencyRecorder(int capacity, bool withEnds = false)
{
    private long[] _samples = new long[Math.Max(capacity, 16)];
    private long[]? _ends = withEnds ? new long[Math.Max(capacity, 16)] : null; // Stopwatch timestamps of completion

    public int Count { get; private set; }

    public void Record(long ticks, long end = 0)
    {
        if (Count == _samples.Length)
        {
            Array.Resize(ref _samples, _samples.Length * 2);
            if (_ends is not null)
            {
                Array.Resize(ref _ends, _ends.Length * 2);
            }
        }

        _samples[Count] = ticks;
        if (_ends is not null)
        {
            _ends[Count] = end;
        }

        Count++;
    }

    /// <summary>
    /// Writes "unix-seconds latency-ms" per sample of every recorder (recorded with ends), the Stopwatch timestamps turned
    /// into wall time through one pair read at <paramref name="startTimestamp"/> / <paramref name="startUnixSeconds"/>.
    /// </summary>
    public static void WriteLog(string path, IEnumerable<LatencyRecorder?> recorders, long startTimestamp, double startUnixSeconds)
    {
        using var writer = new StreamWriter(path);
        foreach (var recorder in recorders)
        {
            if (recorder?._ends is not { } ends)
            {
                continue;
            }

            var count = Math.Min(recorder.Count, ends.Length);
            for (var i = 0; i < count; i++)
            {
                var at = startUnixSeconds + ((double)(ends[i] - startTimestamp) / Stopwatch.Frequency);
                var ms = recorder._samples[i] * 1000.0 / Stopwatch.Frequency;
                writer.Write(at.ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
                writer.Write(' ');
                writer.WriteLine(ms.ToString("F3", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
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

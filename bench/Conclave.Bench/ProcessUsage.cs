using System.Globalization;

namespace Conclave.Bench;

/// <summary>CPU time and memory of a local process, read from <c>/proc/PID/stat</c> and <c>/proc/PID/status</c> (Linux).</summary>
/// <param name="CpuSeconds">User plus system CPU time consumed so far.</param>
/// <param name="RssKb">Resident set size now, KiB.</param>
/// <param name="PeakRssKb">Peak resident set size (VmHWM), KiB.</param>
internal sealed record ProcessUsage(double CpuSeconds, long RssKb, long PeakRssKb)
{
    // USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every mainstream Linux build.
    private const double ClockTicksPerSecond = 100;

    /// <summary>Samples <paramref name="pid"/>; null when it is not readable (not Linux, no such process).</summary>
    public static ProcessUsage? Sample(int? pid)
    {
        if (pid is not { } id)
        {
            return null;
        }

        try
        {
            // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            long rss = 0, peak = 0;
            foreach (var line in File.ReadLines($"/proc/{id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = Kb(line);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = Kb(line);
                }
            }

            return new ProcessUsage(ticks / ClockTicksPerSecond, rss, peak);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Average CPU use between two samples, in percent of one core.</summary>
    public static double? CpuPercent(ProcessUsage? before, ProcessUsage? after, TimeSpan elapsed) =>
        before is null || after is null || elapsed <= TimeSpan.Zero ? null : (after.CpuSeconds - before.CpuSeconds) * 100 / elapsed.TotalSeconds;

    private static long Kb(string line) =>
        long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
}

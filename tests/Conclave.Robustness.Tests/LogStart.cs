using System.Globalization;

namespace Conclave.Robustness.Tests;

/// <summary>
/// Reads where a member's Raft log starts (<c>conclave_cluster_log_first_index</c> on /metrics). A follower behind that
/// index can only catch up by snapshot; while a peer fetches a snapshot (and 10 s after) the serving member keeps the log
/// after it, so a test that wants a catch-up by snapshot waits for this rather than for a snapshot line in the log.
/// </summary>
internal static class LogStart
{
    public static async Task<long> ReadAsync(NodeProcess member, CancellationToken cancellationToken = default)
    {
        using var http = member.CreateHttpClient();
        var metrics = await http.GetStringAsync("/metrics", cancellationToken);
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith("conclave_cluster_log_first_index ", StringComparison.Ordinal))
            {
                return (long)double.Parse(line["conclave_cluster_log_first_index ".Length..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("/metrics has no conclave_cluster_log_first_index");
    }

    /// <summary>Waits until the log of every member but <paramref name="except"/> starts after <paramref name="index"/>.</summary>
    public static Task WaitPastAsync(ProcessCluster cluster, int except, long index, TimeSpan patience) =>
        Eventually.WaitAsync(
            async ct =>
            {
                foreach (var other in Enumerable.Range(0, cluster.Count).Where(i => i != except))
                {
                    if (await ReadAsync(cluster[other], ct) <= index + 1)
                    {
                        return false;
                    }
                }

                return true;
            },
            patience,
            $"every other member's log to start past index {index} (so the stopped member needs a snapshot)");
}

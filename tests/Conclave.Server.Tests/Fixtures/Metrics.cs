using System.Globalization;

namespace Conclave.Server.Tests.Fixtures;

/// <summary>Reads series from a node's Prometheus text at <c>/metrics</c>.</summary>
internal static class Metrics
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The value of an unlabelled series, or null when absent.</summary>
    public static async Task<double?> ReadAsync(string httpUrl, string series, CancellationToken cancellationToken = default)
    {
        var text = await Http.GetStringAsync(new Uri(httpUrl + "/metrics"), cancellationToken);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>
    /// Waits until the node has exactly <paramref name="count"/> open watchers: a watcher is counted once the
    /// server has fixed its start revision, so a write after this is guaranteed to reach it.
    /// </summary>
    public static Task WaitForWatchersAsync(string httpUrl, int count) =>
        Eventually.WaitAsync(
            async ct => await ReadAsync(httpUrl, "conclave_watch_watchers", ct) == count,
            Eventually.DefaultTimeout,
            $"conclave_watch_watchers == {count} on {httpUrl}");
}

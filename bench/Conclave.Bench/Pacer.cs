using System.Diagnostics;

namespace Conclave.Bench;

/// <summary>
/// Spaces each client's requests on an absolute schedule so all clients together send <c>rate</c> per second.
/// A late request is followed by catch-up rather than drift, so the offered rate holds when latency spikes.
/// </summary>
internal sealed class Pacer
{
    private readonly long _interval;
    private readonly long[] _next;

    public Pacer(int rate, int clients)
    {
        _interval = (long)(Stopwatch.Frequency * (double)clients / rate);
        _next = new long[clients];
        var begin = Stopwatch.GetTimestamp();
        for (var c = 0; c < clients; c++)
        {
            // Stagger the clients inside one interval instead of sending in bursts.
            _next[c] = begin + (_interval * c / clients);
        }
    }

    public ValueTask WaitAsync(int client, CancellationToken cancellationToken)
    {
        var wait = _next[client] - Stopwatch.GetTimestamp();
        _next[client] += _interval;
        return wait > 0
            ? new ValueTask(Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken))
            : ValueTask.CompletedTask;
    }
}

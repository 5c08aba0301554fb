using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// The logger factory DotNext's Raft gets: DotNext logs some conditions once per attempt, and attempts repeat every
/// few milliseconds (a member that is down: "member is unavailable" about 500 times a second; a member fetching a
/// snapshot: "too far behind" every round). Those events are logged the first time, then at most once per
/// <see cref="Window"/> per event and message, with how many were left out. A follower's "not yet" answer to an
/// InstallSnapshot while it fetches the image (ADR 0010) is expected, not a failure: it goes to Debug.
/// </summary>
internal sealed class RaftLogFilter(ILoggerFactory inner, TimeProvider time) : ILoggerFactory
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    /// <summary>DotNext's repeating events: member unavailable, replication failed, member too far behind.</summary>
    private static readonly HashSet<int> Repeating = [74010, 74015, 74044];

    private readonly ConcurrentDictionary<(int EventId, string Message), Seen> seen = new();

    public ILogger CreateLogger(string categoryName) => new Logger(inner.CreateLogger(categoryName), this);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The inner factory belongs to the host.</summary>
    public void Dispose()
    {
    }

    /// <summary>Whether to log now; <paramref name="suppressed"/> is how many like it were left out since the last one.</summary>
    private bool Admit(int eventId, string message, out long suppressed)
    {
        suppressed = 0;
        var now = time.GetTimestamp();
        var entry = seen.GetOrAdd((eventId, message), static (_, t) => new Seen(t), now);
        lock (entry)
        {
            if (entry.Logged && time.GetElapsedTime(entry.Since, now) < Window)
            {
                entry.Suppressed++;
                return false;
            }

            suppressed = entry.Suppressed;
            entry.Logged = true;
            entry.Since = now;
            entry.Suppressed = 0;
            return true;
        }
    }

    private static bool IsSnapshotNotReady(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SnapshotNotReadyException)
            {
                return true;
            }
        }

        return false;
    }

    private sealed class Seen(long since)
    {
        public long Since { get; set; } = since;

        public bool Logged { get; set; }

        public long Suppressed { get; set; }
    }

    private sealed class Logger(ILogger inner, RaftLogFilter filter) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Debug && IsSnapshotNotReady(exception))
            {
                logLevel = LogLevel.Debug;
            }

            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            if (logLevel >= LogLevel.Warning && Repeating.Contains(eventId.Id))
            {
                if (!filter.Admit(eventId.Id, formatter(state, null), out var suppressed))
                {
                    return;
                }

                if (suppressed > 0)
                {
                    inner.Log(logLevel, eventId, $"{suppressed} more like the next message in the last {Window.TotalSeconds:0} s were not logged", null, static (s, _) => s);
                }
            }

            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}

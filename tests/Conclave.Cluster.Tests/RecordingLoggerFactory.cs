using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster.Tests;

/// <summary>Collects log records so tests can assert what an operator would see.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<(LogLevel Level, EventId EventId, string Message)> Records { get; } = new();

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class RecordingLogger(RecordingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Records.Enqueue((logLevel, eventId, formatter(state, exception)));
            }
        }
    }
}

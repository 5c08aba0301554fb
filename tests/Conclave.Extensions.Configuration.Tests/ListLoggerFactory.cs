using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Conclave.Extensions.Configuration.Tests;

/// <summary>Keeps every formatted log line, so a test can assert what the provider logged.</summary>
public sealed class ListLoggerFactory : ILoggerFactory, ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<string> lines = new();

    public IReadOnlyCollection<string> Lines => lines;

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        lines.Enqueue($"{logLevel} {eventId.Id} {formatter(state, exception)}");

    public void Dispose()
    {
    }
}

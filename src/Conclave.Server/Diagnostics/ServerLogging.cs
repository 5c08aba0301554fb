using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Conclave.Server;

/// <summary>The member's console log in the format <c>--log-format</c> chose, and its default levels.</summary>
public static class ServerLogging
{
    /// <summary>Parses a <c>--log-format</c> value.</summary>
    /// <exception cref="ArgumentException">Neither <c>text</c> nor <c>json</c>.</exception>
    public static LogFormat Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new ArgumentException($"--log-format '{value}': must be text (readable lines) or json (one JSON object per line)"),
    };

    /// <summary>Adds the console provider in <paramref name="format"/> with the member's levels.</summary>
    internal static void Configure(ILoggingBuilder logging, LogFormat format)
    {
        if (format == LogFormat.Json)
        {
            // The built-in formatter writes with Utf8JsonWriter (no reflection): one object per entry, on one line, with
            // Timestamp, EventId, LogLevel, Category, Message, Exception, State and Scopes.
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
        logging.AddFilter("DotNext", LogLevel.Warning);
        // The OpenTelemetry SDK reports its own troubles (an unreachable collector) through EventSource, not here.
    }
}

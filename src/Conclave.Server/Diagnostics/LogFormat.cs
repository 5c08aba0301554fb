namespace Conclave.Server;

/// <summary>How a member writes its log to standard output (<c>--log-format</c>).</summary>
public enum LogFormat
{
    /// <summary>One readable line per entry: time, level, category, event id, message.</summary>
    Text,

    /// <summary>One JSON object per line: timestamp (ISO 8601, UTC), level, category, event id, message, exception, state and scopes.</summary>
    Json,
}

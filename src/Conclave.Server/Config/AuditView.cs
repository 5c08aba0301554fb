namespace Conclave.Server.Config;

/// <summary>An audit entry with the app it belongs to (the global audit spans every app).</summary>
public sealed record AuditView(string App, DateTimeOffset At, string Author, string? From, string Action, string Target, string Detail)
{
    /// <summary>The request that made the change (X-Request-Id or the member's id for it).</summary>
    public string? RequestId { get; init; }
}

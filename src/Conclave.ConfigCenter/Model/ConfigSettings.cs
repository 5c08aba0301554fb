using System.Text.Json.Serialization;

namespace Conclave.ConfigCenter.Model;

/// <summary>The center's member-wide settings (ADR 0015), at <c>config/v1/settings</c>; changed by root.</summary>
public sealed record ConfigSettings
{
    [JsonPropertyName("v")]
    public int FormatVersion { get; set; } = 1;

    /// <summary>Subjects (<c>user:NAME</c>, <c>role:NAME</c>) who may create apps; empty: every signed-in user (Apollo's default).</summary>
    public IReadOnlyList<string> AppCreators { get; set; } = [];

    /// <summary>Days the audit keeps entries (0: forever); older ones are dropped by the leader every few minutes.</summary>
    public int AuditRetentionDays { get; set; }
}

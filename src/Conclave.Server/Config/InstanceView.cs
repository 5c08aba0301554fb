using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

/// <summary>One reporting instance of a namespace, and whether the active gray rule selects it.</summary>
public sealed record InstanceView(
    string InstanceId, IReadOnlyList<string> Labels, long ReleaseId, DeliveryStatus Status, string? Reason, DateTimeOffset ReportedAt, string? From, bool InGray);

namespace Conclave.Server.Http;

/// <summary>What this member knows of the cluster, for the console. Ids are hex strings (64-bit, as etcdctl prints them).</summary>
public sealed record ClusterView(
    string ClusterId,
    string MemberId,
    string? LeaderId,
    bool IsLeader,
    ulong Term,
    long CommitIndex,
    long AppliedIndex,
    long Revision,
    long CompactRevision,
    long DbSizeBytes,
    long QuotaBytes,
    int Keys,
    int Leases,
    bool Healthy,
    string HealthReason,
    IReadOnlyList<string> Alarms,
    IReadOnlyList<MemberView> Members);

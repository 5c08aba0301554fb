namespace Conclave.ConfigCenter.Model;

/// <summary>How many reporting instances run which release, and who rejected <see cref="ReleaseId"/>.</summary>
public sealed record Convergence(
    long ReleaseId,
    int Instances,
    int Applied,
    IReadOnlyDictionary<long, int> ByRelease,
    IReadOnlyList<InstanceRecord> Rejected);

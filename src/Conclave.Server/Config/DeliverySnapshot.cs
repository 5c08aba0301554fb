using Conclave.ConfigCenter.Model;

namespace Conclave.Server.Config;

/// <summary>
/// Delivery of one namespace at one moment: the main release and how many live instances applied it
/// (<see cref="Applied"/> of <see cref="InstanceCount"/>, <see cref="Rejected"/> refused it), the gray release and
/// its cohort, and the instances themselves (the first <see cref="DeliveryFeed.MaxInstances"/>, by id).
/// </summary>
public sealed record DeliverySnapshot(
    string App,
    string Env,
    string Namespace,
    long HeadReleaseId,
    GrayState? Gray,
    int InstanceCount,
    int Applied,
    int Rejected,
    IReadOnlyDictionary<long, int> ByRelease,
    int GrayCohort,
    int GrayApplied,
    IReadOnlyList<InstanceView> Instances,
    bool Truncated);

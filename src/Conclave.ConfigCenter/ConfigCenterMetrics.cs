using System.Diagnostics.Metrics;

namespace Conclave.ConfigCenter;

/// <summary>
/// What the configuration center did, under the meter "Conclave.ConfigCenter": releases published and refused,
/// instances' delivery reports, and the rollout driver's steps. Counted on the member that served the request (sum
/// over members for the cluster's figure). One meter per process: members in one process share it.
/// </summary>
public static class ConfigCenterMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Conclave.ConfigCenter";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> Published = Meter.CreateCounter<long>("conclave.config.releases", "{release}", "Releases published (normal, gray and rollback)");
    private static readonly Counter<long> Refused = Meter.CreateCounter<long>("conclave.config.releases_refused", "{release}", "Publishes refused because the working copy is not a valid document or fails its schema");
    private static readonly Counter<long> Applied = Meter.CreateCounter<long>("conclave.config.delivery.applied", "{report}", "Instance reports that a release was applied");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("conclave.config.delivery.rejected", "{report}", "Instance reports that a release was rejected (the client's validation refused it)");
    private static readonly Counter<long> RolloutSteps = Meter.CreateCounter<long>("conclave.config.rollout.steps", "{step}", "Rollout plan changes made by the leader's driver (advance, halt, roll back, promote)");
    private static readonly Counter<long> RolloutFailures = Meter.CreateCounter<long>("conclave.config.rollout.failures", "{look}", "Looks at a rollout plan that failed (tried again at the next tick)");
    private static readonly ObservableGauge<long> Active = Meter.CreateObservableGauge(
        "conclave.config.rollouts.active", () => Interlocked.Read(ref activeRollouts), "{rollout}", "Active rollout plans, as the leader's driver last saw them (0 on other members)");

    private static long activeRollouts;

    /// <summary>Creates the instruments now, so <c>/metrics</c> lists them (at zero) before anything happens.</summary>
    public static void Publish() => GC.KeepAlive(Active);

    internal static void ReleasePublished() => Published.Add(1);

    internal static void ReleaseRefused() => Refused.Add(1);

    internal static void Reported(Model.DeliveryStatus status) => (status == Model.DeliveryStatus.Rejected ? Rejected : Applied).Add(1);

    /// <summary>The rollout driver took a step.</summary>
    public static void RolloutStepped() => RolloutSteps.Add(1);

    /// <summary>The rollout driver's look at a plan failed.</summary>
    public static void RolloutLookFailed() => RolloutFailures.Add(1);

    /// <summary>How many rollout plans are active, as this member's driver saw them (0 when it does not lead).</summary>
    public static void ActiveRollouts(int count) => Interlocked.Exchange(ref activeRollouts, count);
}

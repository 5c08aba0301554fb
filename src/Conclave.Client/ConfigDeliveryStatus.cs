namespace Conclave.Client;

/// <summary>What an instance did with a release, as reported to the configuration center's delivery tracking.</summary>
public enum ConfigDeliveryStatus
{
    /// <summary>The instance runs the release.</summary>
    Applied = 0,

    /// <summary>The instance refused the release (for example it failed validation) and keeps its previous one.</summary>
    Rejected = 1,

    /// <summary>The instance runs the release and its health checks failed afterwards (counts against a rollout plan's limit).</summary>
    Unhealthy = 2,
}

namespace Conclave.Client.Tests.Fixtures;

/// <summary>A running multi-member cluster for failover tests: etcd today, Conclave later.</summary>
public abstract class KvClusterFixture : KvEndpointFixture
{
    /// <summary>Kills one member abruptly and leaves it down.</summary>
    public abstract Task KillMemberAsync(int index, CancellationToken cancellationToken);
}

namespace Conclave.Cluster;

/// <summary>The <see cref="ConsensusUnavailableException"/>s raised in more than one place.</summary>
internal static class Unavailable
{
    public static ConsensusUnavailableException Stopping(Exception? inner = null) => new("This member is stopping.", inner);
}

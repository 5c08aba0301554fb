namespace Conclave.Cluster;

/// <summary>The log cannot accept or finish a proposal now: no leader, the member is stopping, or a timeout.</summary>
public sealed class ConsensusUnavailableException : Exception
{
    public ConsensusUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}

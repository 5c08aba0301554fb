namespace Conclave.Testing;

/// <summary>A node process failed to become healthy.</summary>
public sealed class NodeStartException(string message, bool addressInUse) : Exception(message)
{
    /// <summary>Whether it failed because a port was taken (a lost race on a probed free port).</summary>
    public bool AddressInUse { get; } = addressInUse;
}

namespace Conclave.Testing.Linearizability;

/// <summary>What the checker concluded.</summary>
public enum LinearizabilityVerdict
{
    /// <summary>Some order of the operations, consistent with real time, is legal for the register model on every key.</summary>
    Linearizable,

    /// <summary>No such order exists for at least one key.</summary>
    NotLinearizable,

    /// <summary>The search ran out of time before deciding (the problem is NP-complete; keep histories small).</summary>
    Inconclusive,
}

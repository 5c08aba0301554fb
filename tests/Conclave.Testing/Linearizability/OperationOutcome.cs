namespace Conclave.Testing.Linearizability;

/// <summary>How an operation ended, as far as the client knows.</summary>
public enum OperationOutcome
{
    /// <summary>It completed with a result.</summary>
    Ok,

    /// <summary>It certainly did not take effect (for example the connection was refused): left out of the check.</summary>
    Failed,

    /// <summary>
    /// Indeterminate (timeout, connection lost after sending, or still running when the history was taken): it may
    /// take effect at any time after its call, or never. Its return time is +infinity.
    /// </summary>
    Unknown,
}

namespace Conclave.Testing.Linearizability;

/// <summary>What an operation on one key's register does.</summary>
public enum RegisterOperationKind
{
    /// <summary>Writes a value.</summary>
    Put,

    /// <summary>Reads the value (or its absence).</summary>
    Get,

    /// <summary>Removes the value.</summary>
    Delete,

    /// <summary>Writes a value if the current one equals the expected one (a txn <c>if value == expected then put</c>).</summary>
    CompareAndSet,
}

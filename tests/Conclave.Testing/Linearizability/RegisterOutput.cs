namespace Conclave.Testing.Linearizability;

/// <summary>What a completed operation returned.</summary>
/// <param name="Value">For a get: the value read, <c>null</c> when the key was absent.</param>
/// <param name="Succeeded">For a compare-and-set: whether the comparison held and the value was written.</param>
public sealed record RegisterOutput(string? Value = null, bool Succeeded = true)
{
    /// <summary>A put or delete that completed.</summary>
    public static readonly RegisterOutput Done = new();

    public static RegisterOutput Read(string? value) => new(value);

    public static RegisterOutput Swapped(bool succeeded) => new(Succeeded: succeeded);
}

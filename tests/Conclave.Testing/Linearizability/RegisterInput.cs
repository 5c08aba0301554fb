namespace Conclave.Testing.Linearizability;

/// <summary>An operation on one key's register, as the client asked for it.</summary>
/// <param name="Kind">What the operation does.</param>
/// <param name="Value">The value written by <see cref="RegisterOperationKind.Put"/> and <see cref="RegisterOperationKind.CompareAndSet"/>.</param>
/// <param name="Expected">The value <see cref="RegisterOperationKind.CompareAndSet"/> compares with; <c>null</c> means "absent" (create if absent).</param>
public sealed record RegisterInput(RegisterOperationKind Kind, string? Value = null, string? Expected = null)
{
    public static RegisterInput Put(string value) => new(RegisterOperationKind.Put, value);

    public static RegisterInput Get() => new(RegisterOperationKind.Get);

    public static RegisterInput Delete() => new(RegisterOperationKind.Delete);

    public static RegisterInput CompareAndSet(string? expected, string value) => new(RegisterOperationKind.CompareAndSet, value, expected);

    public override string ToString() => Kind switch
    {
        RegisterOperationKind.Put => $"put({Quote(Value)})",
        RegisterOperationKind.Get => "get()",
        RegisterOperationKind.Delete => "delete()",
        _ => $"cas({Quote(Expected)} -> {Quote(Value)})",
    };

    internal static string Quote(string? value) => value is null ? "absent" : $"\"{value}\"";
}

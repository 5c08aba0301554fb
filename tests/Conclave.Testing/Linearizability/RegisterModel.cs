namespace Conclave.Testing.Linearizability;

/// <summary>
/// The sequential specification of one key: a register holding a value or nothing. A step says whether an
/// operation with the observed output is legal in a state, and what state follows.
/// </summary>
public static class RegisterModel
{
    /// <summary>The state of every key before the history: absent.</summary>
    public const string? Initial = null;

    /// <summary>
    /// Applies <paramref name="input"/> to <paramref name="state"/>. <paramref name="output"/> is <c>null</c> when the
    /// outcome is unknown: then the step is always legal and takes the effect the operation would have had.
    /// </summary>
    public static bool Step(string? state, RegisterInput input, RegisterOutput? output, out string? next)
    {
        ArgumentNullException.ThrowIfNull(input);
        switch (input.Kind)
        {
            case RegisterOperationKind.Put:
                next = input.Value;
                return true;
            case RegisterOperationKind.Delete:
                next = null;
                return true;
            case RegisterOperationKind.Get:
                next = state;
                return output is null || output.Value == state;
            case RegisterOperationKind.CompareAndSet:
                var holds = state == input.Expected;
                next = holds ? input.Value : state;
                return output is null || output.Succeeded == holds;
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input.Kind, "unknown operation kind");
        }
    }
}

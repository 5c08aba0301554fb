namespace Conclave.Testing.Linearizability;

/// <summary>One recorded operation of a history.</summary>
/// <param name="Id">Position in the recording order, unique in a history.</param>
/// <param name="ClientId">Who issued it; one client issues one operation at a time.</param>
/// <param name="Key">The register (key) it works on.</param>
/// <param name="Input">What was asked.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Output">What it returned (only for <see cref="OperationOutcome.Ok"/>).</param>
/// <param name="Call">Monotonic time taken before the request was sent (<see cref="HistoryRecorder"/>: <see cref="TimeSpan"/> ticks since it started).</param>
/// <param name="Return">Monotonic time taken after the answer arrived; <see cref="long.MaxValue"/> (+infinity) unless <see cref="OperationOutcome.Ok"/>.</param>
public sealed record Operation(
    int Id,
    int ClientId,
    string Key,
    RegisterInput Input,
    OperationOutcome Outcome,
    RegisterOutput? Output,
    long Call,
    long Return)
{
    /// <summary>The "return time" of an operation whose outcome is unknown.</summary>
    public const long Infinity = long.MaxValue;

    /// <summary>Builds a completed operation (for tests that write histories by hand; times in any monotonic unit).</summary>
    public static Operation Ok(int id, int clientId, string key, RegisterInput input, RegisterOutput output, long call, long @return) =>
        new(id, clientId, key, input, OperationOutcome.Ok, output, call, @return);

    /// <summary>Builds an operation whose outcome is unknown.</summary>
    public static Operation Indeterminate(int id, int clientId, string key, RegisterInput input, long call) =>
        new(id, clientId, key, input, OperationOutcome.Unknown, null, call, Infinity);

    public override string ToString()
    {
        var result = Outcome switch
        {
            OperationOutcome.Failed => "failed",
            OperationOutcome.Unknown => "unknown",
            _ => Input.Kind switch
            {
                RegisterOperationKind.Get => RegisterInput.Quote(Output?.Value),
                RegisterOperationKind.CompareAndSet => Output?.Succeeded == true ? "swapped" : "not swapped",
                _ => "ok",
            },
        };
        return $"#{Id} client {ClientId} {Input} -> {result}";
    }
}

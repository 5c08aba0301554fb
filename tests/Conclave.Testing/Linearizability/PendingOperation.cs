namespace Conclave.Testing.Linearizability;

/// <summary>An operation whose call has been recorded; exactly one of the completion methods records its end.</summary>
public sealed class PendingOperation
{
    private readonly HistoryRecorder recorder;
    private readonly int id;
    private readonly int clientId;
    private readonly string key;
    private readonly RegisterInput input;
    private readonly long call;
    private OperationOutcome? outcome;
    private RegisterOutput? output;
    private long @return = Operation.Infinity;

    internal PendingOperation(HistoryRecorder recorder, int id, int clientId, string key, RegisterInput input, long call)
    {
        this.recorder = recorder;
        this.id = id;
        this.clientId = clientId;
        this.key = key;
        this.input = input;
        this.call = call;
    }

    /// <summary>The operation completed and returned <paramref name="result"/>.</summary>
    public void Ok(RegisterOutput result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var now = recorder.Now();
        Complete(OperationOutcome.Ok, result, now);
    }

    /// <summary>The operation certainly did not take effect.</summary>
    public void Fail() => Complete(OperationOutcome.Failed, null, recorder.Now());

    /// <summary>The operation may or may not have taken effect (or may still take effect later).</summary>
    public void Unknown() => Complete(OperationOutcome.Unknown, null, Operation.Infinity);

    internal Operation ToOperation() =>
        outcome is { } done
            ? new Operation(id, clientId, key, input, done, output, call, @return)
            : new Operation(id, clientId, key, input, OperationOutcome.Unknown, null, call, Operation.Infinity);

    private void Complete(OperationOutcome result, RegisterOutput? value, long at)
    {
        lock (recorder.Gate)
        {
            if (outcome is not null)
            {
                throw new InvalidOperationException($"operation #{id} was already completed as {outcome}");
            }

            outcome = result;
            output = value;
            @return = at;
        }
    }
}

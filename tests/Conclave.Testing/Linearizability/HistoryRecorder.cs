namespace Conclave.Testing.Linearizability;

/// <summary>
/// Records a history of concurrent operations: call and return times from a monotonic clock, the client, the
/// operation and its outcome. Thread-safe; many clients record into one recorder.
/// </summary>
/// <example>
/// <code>
/// var op = recorder.Begin(clientId, key, RegisterInput.Put("v1"));
/// try { await client.PutAsync(key, "v1"); op.Ok(RegisterOutput.Done); }
/// catch (RequestTimeoutException) { op.Unknown(); }
/// </code>
/// </example>
public sealed class HistoryRecorder
{
    private readonly TimeProvider clock;
    private readonly Lock gate = new();
    private readonly List<PendingOperation> operations = [];
    private readonly long origin;

    /// <param name="clock">Source of monotonic timestamps (<see cref="TimeProvider.GetTimestamp"/>); the system clock by default.</param>
    public HistoryRecorder(TimeProvider? clock = null)
    {
        this.clock = clock ?? TimeProvider.System;
        origin = this.clock.GetTimestamp();
    }

    /// <summary>Number of operations begun so far.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return operations.Count;
            }
        }
    }

    /// <summary>Records the call of an operation; complete it with <see cref="PendingOperation.Ok"/>, <see cref="PendingOperation.Fail"/> or <see cref="PendingOperation.Unknown"/>.</summary>
    public PendingOperation Begin(int clientId, string key, RegisterInput input)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(input);
        lock (gate)
        {
            // The timestamp is taken under the lock so ids follow call order.
            var pending = new PendingOperation(this, operations.Count, clientId, key, input, Now());
            operations.Add(pending);
            return pending;
        }
    }

    /// <summary>The history so far. Operations not completed yet count as <see cref="OperationOutcome.Unknown"/>.</summary>
    public IReadOnlyList<Operation> History()
    {
        lock (gate)
        {
            return [.. operations.Select(static p => p.ToOperation())];
        }
    }

    /// <summary>Monotonic time since the recorder was created, in <see cref="TimeSpan"/> ticks (100 ns).</summary>
    internal long Now() => clock.GetElapsedTime(origin).Ticks;

    internal Lock Gate => gate;
}

namespace Conclave.Cluster;

/// <summary>
/// The deterministic state machine that the replicated log drives. Implemented over Conclave.Storage; the
/// consensus layer never looks inside a payload.
/// </summary>
public interface IReplicatedStateMachine
{
    /// <summary>Index of the last log entry applied (0 when empty).</summary>
    long AppliedIndex { get; }

    /// <summary>
    /// Applies one committed log entry. Called exactly once per entry, in index order, never concurrently with
    /// itself or with <see cref="WriteSnapshot"/>. Returns one result per command in the payload (the proposer
    /// on this member receives its command's result). Must not throw for a bad command: a rejected command is
    /// a result, so every member reaches the same state.
    /// </summary>
    IReadOnlyList<object?> Apply(long index, long term, ReadOnlySpan<byte> payload);

    /// <summary>Writes a consistent, versioned image of the whole state as of <see cref="AppliedIndex"/>.</summary>
    void WriteSnapshot(Stream destination);

    /// <summary>Replaces the whole state with an image written by <see cref="WriteSnapshot"/>.</summary>
    void RestoreSnapshot(Stream source);
}

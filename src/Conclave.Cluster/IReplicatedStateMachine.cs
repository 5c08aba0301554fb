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

    /// <summary>
    /// Checks that <see cref="Apply"/> can apply <paramref name="command"/> on every member; throws (with the field and
    /// the reason) when it cannot. The consensus layer calls it for every command before it enters the log: on the
    /// proposing member, and on the leader again for every batch a follower forwards (ADR 0008).
    /// </summary>
    void ValidateCommand(Conclave.Api.Raft.Command command);

    /// <summary>Writes a consistent, versioned image of the whole state as of <see cref="AppliedIndex"/>.</summary>
    void WriteSnapshot(Stream destination);

    /// <summary>
    /// Freezes the state as of <see cref="AppliedIndex"/> for an image written later, on another thread, while
    /// <see cref="Apply"/> goes on (called under the apply order, like <see cref="Apply"/>). The default writes the
    /// image into memory at once; a state machine that can freeze its state cheaply overrides it (ADR 0017).
    /// </summary>
    ISnapshotImage CaptureSnapshot() => BufferedSnapshotImage.Write(this);

    /// <summary>Replaces the whole state with an image written by <see cref="WriteSnapshot"/>.</summary>
    void RestoreSnapshot(Stream source);
}

/// <summary>A state frozen for a snapshot (<see cref="IReplicatedStateMachine.CaptureSnapshot"/>). Dispose it when done.</summary>
public interface ISnapshotImage : IDisposable
{
    /// <summary>The image's exact length in bytes, known before it is written.</summary>
    long Length { get; }

    /// <summary>Writes the image (once), on any thread.</summary>
    void WriteTo(Stream destination);
}

/// <summary>An image written into pooled memory when captured: the default for state machines that cannot freeze.</summary>
internal sealed class BufferedSnapshotImage : ISnapshotImage
{
    private readonly SnapshotBuffer buffer = new();

    private BufferedSnapshotImage()
    {
    }

    public long Length => buffer.Length;

    public static BufferedSnapshotImage Write(IReplicatedStateMachine machine)
    {
        var image = new BufferedSnapshotImage();
        try
        {
            machine.WriteSnapshot(image.buffer);
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    public void WriteTo(Stream destination)
    {
        foreach (var segment in buffer.Segments)
        {
            destination.Write(segment.Span);
        }
    }

    public void Dispose() => buffer.Dispose();
}

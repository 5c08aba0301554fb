namespace Conclave.Storage.Watch;

/// <summary>
/// Tells waiters that the store's revision advanced (or that a compaction happened). Waiting never holds a
/// lock and costs one shared task per published revision, however many watchers wait.
/// </summary>
public sealed class RevisionSignal
{
    private TaskCompletionSource next = NewSource();
    private long revision;

    public long Revision => Volatile.Read(ref revision);

    /// <summary>Completes when <see cref="Revision"/> exceeds <paramref name="seen"/> or <see cref="Pulse"/> is called.</summary>
    public Task WaitAsync(long seen)
    {
        var source = Volatile.Read(ref next);
        return Volatile.Read(ref revision) > seen ? Task.CompletedTask : source.Task;
    }

    public void Publish(long newRevision)
    {
        Volatile.Write(ref revision, newRevision);
        Pulse();
    }

    /// <summary>Wakes every waiter (after a compaction, so lagging watchers notice it).</summary>
    public void Pulse() => Interlocked.Exchange(ref next, NewSource()).TrySetResult();

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

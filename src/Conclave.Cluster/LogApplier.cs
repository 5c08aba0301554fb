using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Conclave.Cluster;

/// <summary>
/// The applier of <see cref="RaftLog"/>: one loop that applies committed entries in order (configuration entries go to
/// the membership storage first, as DotNext does), and the waits for an index to be applied.
/// </summary>
internal sealed class LogApplier
{
    private readonly Func<StoredEntry?> next;
    private readonly SnapshottingStateMachine machine;
    private readonly IClusterConfigurationStorage? configuration;
    private readonly Action afterRound;
    private readonly Action<Exception> fail;
    private readonly Action throwIfFailed;
    private readonly SemaphoreSlim wake = new(0);
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private TaskCompletionSource changed = NewSignal();
    private long appliedIndex;
    private Task loop = Task.CompletedTask;

    /// <param name="appliedIndex">What the state machine holds already (its snapshot's index).</param>
    /// <param name="next">The next committed entry to apply, or null when every committed entry is applied (takes the log's lock).</param>
    /// <param name="afterRound">Runs after each round of applies, outside the apply order (compaction behind a snapshot).</param>
    /// <param name="fail">Stops the log after the state machine failed.</param>
    /// <param name="throwIfFailed">Throws when the log has failed.</param>
    public LogApplier(
        long appliedIndex, Func<StoredEntry?> next, SnapshottingStateMachine machine, IClusterConfigurationStorage? configuration,
        Action afterRound, Action<Exception> fail, Action throwIfFailed)
    {
        this.appliedIndex = appliedIndex;
        this.next = next;
        this.machine = machine;
        this.configuration = configuration;
        this.afterRound = afterRound;
        this.fail = fail;
        this.throwIfFailed = throwIfFailed;
    }

    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    public void Start() => loop = Task.Run(LoopAsync);

    /// <summary>New entries were committed: apply them.</summary>
    public void Wake() => wake.Release();

    /// <summary>Completes when anything more was applied (or the log failed).</summary>
    public Task NextChange => Volatile.Read(ref changed).Task;

    public ValueTask WaitForAppliedAsync(long index, CancellationToken token)
    {
        throwIfFailed();
        return AppliedIndex >= index ? ValueTask.CompletedTask : WaitSlowAsync(index, token);
    }

    /// <summary>
    /// Runs <paramref name="replace"/> with no apply running (a snapshot replaces the state machine), then records that
    /// everything up to <paramref name="index"/> is applied.
    /// </summary>
    public async Task ReplaceAsync(long index, Func<Task> replace, CancellationToken token)
    {
        await gate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await replace().ConfigureAwait(false);
            Volatile.Write(ref appliedIndex, Math.Max(AppliedIndex, index));
        }
        finally
        {
            gate.Release();
        }

        Signal();
    }

    /// <summary>Fails every waiter with <paramref name="error"/> (the log failed).</summary>
    public void FailWaiters(Exception error) => Interlocked.Exchange(ref changed, NewSignal()).TrySetException(error);

    public async Task StopAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async ValueTask WaitSlowAsync(long index, CancellationToken token)
    {
        while (true)
        {
            var change = NextChange;
            if (AppliedIndex >= index)
            {
                return;
            }

            throwIfFailed();
            await change.WaitAsync(token).ConfigureAwait(false);
        }
    }

    private void Signal() => Interlocked.Exchange(ref changed, NewSignal()).TrySetResult();

    private async Task LoopAsync()
    {
        var token = stopping.Token;
        try
        {
            while (true)
            {
                await wake.WaitAsync(token).ConfigureAwait(false);
                await gate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    while (next() is { } entry)
                    {
                        var applying = entry;
                        if (entry.IsConfiguration)
                        {
                            // The membership, not the state machine's business (saved unless no storage is set yet:
                            // the storage persists it by itself, and a leader sends it with every snapshot).
                            if (configuration is not null)
                            {
                                await configuration.SaveConfigurationAsync(entry, entry.Index, token).ConfigureAwait(false);
                                (configuration as PeerConfigurationStorage)?.MakePrivate();
                            }

                            applying = new StoredEntry(entry.Index, entry.Term, [], isConfiguration: true, entry.CommandId);
                        }

                        await machine.ApplyAsync(applying, token).ConfigureAwait(false);
                        Volatile.Write(ref appliedIndex, entry.Index);
                        Signal();
                    }
                }
                finally
                {
                    gate.Release();
                }

                afterRound();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The state machine failed: its state is undefined, so this member stops applying (as DotNext's WAL does).
            fail(e);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

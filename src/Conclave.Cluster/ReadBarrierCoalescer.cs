namespace Conclave.Cluster;

/// <summary>
/// Lets concurrent linearizable reads share read barriers, as etcd batches ReadIndex requests: a caller joins
/// the next round, and a round starts only after every caller in it arrived, so each caller still gets a
/// barrier that began after its call. Under load this turns one quorum round per read into one per batch.
/// </summary>
internal sealed class ReadBarrierCoalescer(Func<CancellationToken, Task> barrier)
{
    private readonly Lock gate = new();
    private TaskCompletionSource? next;
    private bool running;

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        Task round;
        var start = false;
        lock (gate)
        {
            next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            round = next.Task;
            if (!running)
            {
                running = true;
                start = true;
            }
        }

        if (start)
        {
            _ = Task.Run(RunRoundsAsync, CancellationToken.None);
        }

        return cancellationToken.CanBeCanceled ? round.WaitAsync(cancellationToken) : round;
    }

    private async Task RunRoundsAsync()
    {
        while (true)
        {
            TaskCompletionSource round;
            lock (gate)
            {
                if (next is null)
                {
                    running = false;
                    return;
                }

                round = next;
                next = null;
            }

            try
            {
                await barrier(CancellationToken.None).ConfigureAwait(false);
                round.TrySetResult();
            }
            catch (Exception e)
            {
                round.TrySetException(e);
            }
        }
    }
}

using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// The flusher of <see cref="RaftLog"/>: one thread that makes everything queued since its last write durable with one
/// write and one <c>fdatasync</c> (group commit), together with the log's state (term, vote, commit index), and deletes
/// the segments a snapshot made unnecessary.
/// </summary>
/// <remarks>
/// The log and the flusher share the log's lock: the methods marked "under the lock" are called with it held, so an entry
/// is queued in the same step that appends it and a durability wait covers exactly what was appended before it.
/// </remarks>
internal sealed class LogFlusher
{
    private readonly TimeProvider time;
    private readonly Lock sync;
    private readonly LogSegments files;
    private readonly Func<LogState> state;
    private readonly Func<bool> failed;
    private readonly Action<Exception> fail;
    private readonly ILogger logger;
    private readonly AutoResetEvent wake = new(false);
    private readonly Thread thread;
    private Generation open = new();
    private Generation? writing;
    private int requested;
    private long deleteThrough;
    private long writtenCommit;
    private long framesWritten;
    private bool closing;
    private Task deleting = Task.CompletedTask;

    /// <param name="sync">The log's lock.</param>
    /// <param name="state">The log's state to record with a frame (called under the lock).</param>
    /// <param name="failed">Whether the log has failed: nothing more is written (called under the lock).</param>
    /// <param name="fail">Stops the log after a write failed.</param>
    public LogFlusher(Lock sync, LogSegments files, Func<LogState> state, Func<bool> failed, Action<Exception> fail, ILogger logger, TimeProvider time)
    {
        this.time = time;
        this.sync = sync;
        this.files = files;
        this.state = state;
        this.failed = failed;
        this.fail = fail;
        this.logger = logger;
        thread = new Thread(Loop) { IsBackground = true, Name = "conclave-raft-log" };
        thread.Start();
    }

    /// <summary>Flushes so far, each one write and one fdatasync.</summary>
    public long FramesWritten => Volatile.Read(ref framesWritten);

    /// <summary>The segment files.</summary>
    public IReadOnlyList<string> Files => files.Files;

    /// <summary>Under the lock: queues <paramref name="entry"/> for the next frame.</summary>
    public void Queue(StoredEntry entry)
    {
        open.Entries.Add(entry);
        open.MinIndex = Math.Min(open.MinIndex, entry.Index);
    }

    /// <summary>Under the lock: completes when every queued entry up to <paramref name="index"/> is durable.</summary>
    public Task DurableThroughAsync(long index)
    {
        if (open.MinIndex <= index)
        {
            return open.Done.Task;
        }

        return writing is not null && writing.MinIndex <= index ? writing.Done.Task : Task.CompletedTask;
    }

    /// <summary>Under the lock: the next frame must be written (the state changed) and this completes after it.</summary>
    public Task ForceAsync()
    {
        open.Forced = true;
        return open.Done.Task;
    }

    /// <summary>Under the lock: segments holding nothing after <paramref name="index"/> may go (a snapshot covers them).</summary>
    public void DeleteThrough(long index) => deleteThrough = Math.Max(deleteThrough, index);

    /// <summary>Under the lock: the next frame must be written, to record the log's state.</summary>
    public void RecordState() => open.Forced = true;

    /// <summary>Wakes the thread (any thread may call it; repeated calls before it runs cost nothing).</summary>
    public void Request()
    {
        if (Interlocked.Exchange(ref requested, 1) == 0)
        {
            wake.Set();
        }
    }

    /// <summary>Under the lock: hands over the frames not written yet (the log failed; their waiters are failed outside the lock).</summary>
    public (Generation Open, Generation? Writing) Detach()
    {
        var pending = (open, writing);
        open = new Generation();
        writing = null;
        return pending;
    }

    /// <summary>Writes a last frame (with the commit index, so a restart applies everything at once), stops and closes.</summary>
    public async Task StopAsync()
    {
        lock (sync)
        {
            closing = true;
        }

        wake.Set();
        await Task.Run(thread.Join).ConfigureAwait(false);
        Generation left;
        lock (sync)
        {
            left = open;
        }

        left.Done.TrySetException(new ObjectDisposedException(nameof(RaftLog)));
        await deleting.ConfigureAwait(false);
        files.Dispose();
        wake.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            wake.WaitOne();
            Volatile.Write(ref requested, 0);
            Generation? generation;
            LogState frameState;
            long delete;
            bool stop;
            lock (sync)
            {
                stop = closing;
                delete = deleteThrough;
                generation = open;
                frameState = state();
                // On the way out one last frame records the commit index, so a restart applies everything at once.
                if (failed() || (generation.Entries.Count == 0 && !generation.Forced && !(stop && frameState.Commit > writtenCommit)))
                {
                    generation = null;
                }
                else
                {
                    writing = generation;
                    open = new Generation();
                }
            }

            if (generation is not null)
            {
                try
                {
                    var started = time.GetTimestamp();
                    files.Append(generation.Entries, frameState);
                    ClusterTimings.WalFsync.Record(time.GetElapsedTime(started).TotalSeconds);
                    writtenCommit = frameState.Commit;
                    Interlocked.Increment(ref framesWritten);
                }
                catch (Exception e)
                {
                    Log.WalWriteFailed(logger, e);
                    fail(e);
                    return;
                }

                lock (sync)
                {
                    writing = null;
                }

                generation.Done.TrySetResult();
            }

            if (delete > 0 && files.DetachThrough(delete) is { Count: > 0 } detached)
            {
                deleting = deleting.ContinueWith(_ => DeleteFiles(detached), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            }

            if (stop)
            {
                return;
            }
        }
    }

    private void DeleteFiles(List<string> paths)
    {
        foreach (var path in paths)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException e)
            {
                Log.WalDeleteFailed(logger, e.Message);
            }
        }
    }

    /// <summary>What one frame writes: the entries queued since the previous one, and who waits for it.</summary>
    internal sealed class Generation
    {
        public List<StoredEntry> Entries { get; } = [];

        public long MinIndex { get; set; } = long.MaxValue;

        public bool Forced { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

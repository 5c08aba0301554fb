using System.Buffers;
using System.Diagnostics;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// <see cref="RaftLog"/>'s view of our <see cref="IReplicatedStateMachine"/>: applies committed entries in order,
/// hands results to the proposers on this member, and keeps snapshots.
/// </summary>
/// <remarks>
/// A snapshot is captured under the apply order (so it is consistent without the state machine knowing about
/// concurrency) straight into its file's page cache, and flushed to disk in the background while applies go on. Once it is durable,
/// <see cref="Snapshot"/> reports it and the log drops the entries behind it and calls
/// <see cref="ReclaimGarbageAsync"/>, which deletes older snapshot files.
/// </remarks>
internal sealed class SnapshottingStateMachine : IAsyncDisposable
{
    private readonly IReplicatedStateMachine machine;
    private readonly string directory;
    private readonly long interval;
    private readonly long logBytes;
    private readonly ILogger logger;
    private readonly ClusterMetrics metrics;
    private readonly Lock snapshotLock = new();
    private PendingBatches? pending;
    private SnapshotFile? snapshot;
    private Task persisting = Task.CompletedTask;
    private Task restoring = Task.CompletedTask;
    private long latestInstall;
    private long appliedIndex;
    private long lastCapturedIndex;
    private long bytesSinceCapture;
    private long lastSnapshotBytes;

    public SnapshottingStateMachine(IReplicatedStateMachine machine, string directory, long interval, long logBytes, ILogger logger, ClusterMetrics metrics)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, 1, nameof(interval));
        ArgumentOutOfRangeException.ThrowIfLessThan(logBytes, 1, nameof(logBytes));
        this.machine = machine;
        this.directory = directory;
        this.interval = interval;
        this.logBytes = logBytes;
        this.logger = logger;
        this.metrics = metrics;
        PrivateFiles.CreateDirectory(directory);
    }

    /// <summary>Where batches proposed by this member wait for their results (set once the member id is known).</summary>
    public PendingBatches? Pending
    {
        get => Volatile.Read(ref pending);
        set => Volatile.Write(ref pending, value);
    }

    /// <summary>Index of the last log entry passed through this adapter (including entries without payload).</summary>
    public long AppliedIndex => Volatile.Read(ref appliedIndex);

    public SnapshotFile? Snapshot => Volatile.Read(ref snapshot);

    /// <summary>Index of the newest durable snapshot, 0 when none.</summary>
    public long SnapshotIndex => Volatile.Read(ref snapshot)?.Index ?? 0;

    /// <summary>
    /// Loads the newest readable snapshot into the state machine. Must run before the WAL is opened: the WAL
    /// replays from the snapshot's index.
    /// </summary>
    /// <exception cref="InvalidDataException">Snapshots exist but none is readable.</exception>
    public void RestoreLatest()
    {
        foreach (var stale in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            File.Delete(stale);
        }

        var candidates = SnapshotFile.List(directory).ToList();
        foreach (var (path, _, _) in candidates)
        {
            SnapshotFile file;
            try
            {
                file = SnapshotFile.Open(path);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.SnapshotUnreadable(logger, path, e.Message);
                continue;
            }

            Log.RestoringSnapshot(logger, path, file.Index, file.Term, file.FileLength);
            using (var payload = file.OpenPayload())
            {
                machine.RestoreSnapshot(payload);
            }

            snapshot = file;
            appliedIndex = lastCapturedIndex = file.Index;
            lastSnapshotBytes = file.PayloadLength;
            return;
        }

        if (candidates.Count > 0)
        {
            throw new InvalidDataException(
                $"None of the {candidates.Count} snapshot(s) in {directory} is readable, and the log behind them was truncated: " +
                "this member cannot rebuild its state. Restore the data directory from a backup or re-join the member.");
        }
    }

    public ValueTask<long> ApplyAsync(StoredEntry entry, CancellationToken token)
    {
        if (entry.Index <= appliedIndex)
        {
            return ValueTask.FromResult(appliedIndex);
        }

        return restoring.IsCompleted ? ValueTask.FromResult(ApplyEntry(entry)) : ApplyAfterRestoreAsync(entry);
    }

    private async ValueTask<long> ApplyAfterRestoreAsync(StoredEntry entry)
    {
        await restoring.ConfigureAwait(false);
        return ApplyEntry(entry);
    }

    private long ApplyEntry(StoredEntry entry)
    {
        if (entry.Payload.Length > 0)
        {
            Apply(entry);
            bytesSinceCapture += entry.Payload.Length;
        }

        Volatile.Write(ref appliedIndex, entry.Index);
        if ((entry.Index - lastCapturedIndex >= interval || bytesSinceCapture >= LogBytesLimit) && persisting.IsCompleted)
        {
            CaptureSnapshot(entry.Index, entry.Term);
        }

        return entry.Index;
    }

    private void Apply(StoredEntry entry)
    {
        var span = entry.Payload.AsSpan();
        try
        {
            var results = machine.Apply(entry.Index, entry.Term, span);
            // Found by the origin in the entry's own bytes, never by DotNext's per-entry context (see ProposalPipeline).
            var batch = Pending?.Find(span);
            if (batch is not null && !batch.Complete(results))
            {
                Log.ResultCountMismatch(logger, entry.Index, batch.Count, results.Count);
            }
        }
        catch (Exception e)
        {
            // Apply must not throw (a rejected command is a result). If it does, the state is undefined: fail the
            // proposers and let DotNext stop applying on this member rather than diverge silently.
            Pending?.Find(span)?.Fail(new ConsensusUnavailableException(
                ConsensusUnavailableReason.ApplyFailed,
                $"The state machine failed to apply log entry {entry.Index}; this member stopped applying.", e));
            throw;
        }
    }

    /// <summary>
    /// Log payload bytes applied since the last snapshot that trigger the next one: the configured minimum, or half
    /// the last snapshot's size when that is more. The WAL keeps the log behind the newest snapshot in memory, so this
    /// bounds that memory to half the state's; and since a snapshot rewrites the whole state, taking one only after
    /// half its size of new log keeps the cost of snapshots per written byte constant as the state grows.
    /// </summary>
    private long LogBytesLimit => long.Max(logBytes, lastSnapshotBytes / 2);

    private void CaptureSnapshot(long index, long term)
    {
        lastCapturedIndex = index;
        bytesSinceCapture = 0;
        var started = Stopwatch.GetTimestamp();
        SnapshotFile.Writer image;
        try
        {
            // Straight into the file's page cache: as fast as a copy in memory, and no buffer the size of the
            // state (which a garbage-collected or pooled buffer would keep resident after the snapshot).
            image = SnapshotFile.Create(directory, index, term);
        }
        catch (Exception e)
        {
            Log.SnapshotFailed(logger, index, e);
            return;
        }

        try
        {
            machine.WriteSnapshot(image);
            image.Seal();
        }
        catch (Exception e)
        {
            image.Dispose();
            Log.SnapshotFailed(logger, index, e);
            return;
        }

        var captureMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        lastSnapshotBytes = image.Length;
        persisting = Task.Run(() =>
        {
            using (image)
            {
                try
                {
                    var persistStarted = Stopwatch.GetTimestamp();
                    var file = image.Commit();
                    Publish(file);
                    metrics.Snapshots.Add(1);
                    Log.SnapshotWritten(logger, index, term, file.FileLength, captureMs, (long)Stopwatch.GetElapsedTime(persistStarted).TotalMilliseconds);
                }
                catch (Exception e)
                {
                    Log.SnapshotFailed(logger, index, e);
                }
            }
        });
    }

    /// <summary>
    /// Receives a snapshot from the leader into a durable file and answers; the state machine is rebuilt from it in
    /// the background. DotNext 6.12 counts an InstallSnapshot that outlasts the peer request timeout as failed and
    /// sends it again (forever, if every attempt is as slow), so the exchange covers only the transfer and the
    /// fsync; rebuilding the keyspace (the larger part: about 0.5 s for 30 MB here) happens afterwards. Entries
    /// after the snapshot, and linearizable reads (<see cref="Restored"/>), wait for the rebuild.
    /// </summary>
    public async ValueTask<long> InstallSnapshotAsync<TEntry>(TEntry entry, long index, CancellationToken token)
        where TEntry : DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry
    {
        Log.InstallingSnapshot(logger, index, entry.Term);
        var started = Stopwatch.GetTimestamp();
        await persisting.ConfigureAwait(false);
        var file = await SnapshotFile.ReceiveAsync(directory, entry, index, token).ConfigureAwait(false);
        var receivedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (receivedMs * 2 > (long)RequestTimeout.TotalMilliseconds)
        {
            Log.SnapshotTransferSlow(logger, index, receivedMs, (long)RequestTimeout.TotalMilliseconds);
        }

        // Durable now: a crash from here on restarts from this file. Open it before anything can delete it.
        var payload = file.OpenPayload();
        Publish(file);
        lastCapturedIndex = index;
        bytesSinceCapture = 0;
        lastSnapshotBytes = file.PayloadLength;
        Volatile.Write(ref appliedIndex, index);
        Volatile.Write(ref latestInstall, index);
        var previous = restoring;
        Volatile.Write(ref restoring, Task.Run(async () =>
        {
            using (payload)
            {
                // Loads run one at a time, in order; one overtaken by a newer snapshot is skipped.
                await previous.ConfigureAwait(false);
                if (Volatile.Read(ref latestInstall) > index)
                {
                    return;
                }

                try
                {
                    machine.RestoreSnapshot(payload);
                }
                catch (Exception e)
                {
                    // The state is undefined: every later apply fails (DotNext stops applying on this member).
                    Log.SnapshotRestoreFailed(logger, index, e);
                    throw;
                }
            }

            Log.SnapshotInstalled(logger, index, file.FileLength, receivedMs, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }));
        return index;
    }

    /// <summary>The peer request timeout; a snapshot transfer near it is reported (the leader would resend).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Completes once the newest snapshot received from the leader is loaded into the state machine.</summary>
    public Task Restored => Volatile.Read(ref restoring);

    private void Publish(SnapshotFile file)
    {
        lock (snapshotLock)
        {
            if (snapshot is null || file.Index > snapshot.Index)
            {
                Volatile.Write(ref snapshot, file);
            }
        }
    }

    public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token)
    {
        var current = Snapshot?.Index ?? 0;
        foreach (var (path, index, _) in SnapshotFile.List(directory))
        {
            if (index < watermark && index != current)
            {
                File.Delete(path);
                Log.SnapshotDeleted(logger, Path.GetFileName(path), watermark);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Waits for a snapshot being written in the background.</summary>
    public async ValueTask DisposeAsync()
    {
        await persisting.ConfigureAwait(false);
        await restoring.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}

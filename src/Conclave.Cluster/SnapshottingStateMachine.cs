using System.Buffers;
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
/// <see cref="ReclaimGarbageAsync"/>, which deletes older snapshot files (in the background, a step at a time:
/// <see cref="FileReclaimer"/>).
/// </remarks>
internal sealed class SnapshottingStateMachine : IAsyncDisposable
{
    private readonly IReplicatedStateMachine machine;
    private readonly string directory;
    private readonly SnapshotSchedule schedule;
    private readonly ILogger logger;
    private readonly ClusterMetrics metrics;
    private readonly Lock snapshotLock = new();
    private readonly SnapshotCatchUp catchUp;
    private readonly ulong localId;
    private readonly TimeProvider time;
    private readonly Dictionary<long, Pin> pins = [];
    private readonly PendingBatches pending;
    private readonly FileReclaimer reclaimer;
    private SnapshotFile? snapshot;
    private Task persisting = Task.CompletedTask;
    private Task restoring = Task.CompletedTask;
    private long latestInstall;
    private long appliedIndex;
    private ISnapshotImage? queued;

    /// <summary>
    /// How long a snapshot served to a peer (and the log after it) is kept after the peer last asked for it, so that an
    /// interrupted fetch resumes and the fetched image can be installed and followed by the log.
    /// </summary>
    public static readonly TimeSpan PinGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Longest a served snapshot holds back log compaction, however busy its fetch: the log it keeps is in memory, so
    /// this bounds that memory to what the cluster writes in this time.
    /// </summary>
    public static readonly TimeSpan MaxPin = TimeSpan.FromMinutes(15);

    public SnapshottingStateMachine(
        IReplicatedStateMachine machine, string directory, long interval, long logBytes, ulong localId, PendingBatches pending,
        SnapshotChunkSource peers, SnapshotHolder? holders, ILogger logger, ClusterMetrics metrics, TimeProvider time)
    {
        schedule = new SnapshotSchedule(interval, logBytes);
        this.machine = machine;
        this.directory = directory;
        this.localId = localId;
        this.pending = pending;
        this.logger = logger;
        this.metrics = metrics;
        this.time = time;
        reclaimer = new FileReclaimer(logger);
        PrivateFiles.CreateDirectory(directory);
        catchUp = new SnapshotCatchUp(Path.Combine(directory, "incoming"), peers, holders, logger, metrics, time);
        metrics.ObserveSnapshotFetch(() => catchUp.ReceivedBytes, () => catchUp.ExpectedBytes);
    }

    /// <summary>Where batches proposed by this member wait for their results.</summary>
    public PendingBatches Pending => pending;

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
        // A snapshot being written when the member stopped, and old ones it was deleting: gone in the background, so
        // that a gigabyte image does not delay the start (nor, while being freed, the log's writes).
        reclaimer.DeleteLeftovers(directory);
        foreach (var stale in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            reclaimer.Delete(stale);
        }

        var candidates = SnapshotFile.List(directory).ToList();
        foreach (var (path, _, _) in candidates)
        {
            SnapshotFile file;
            try
            {
                file = SnapshotFile.Open(path);
            }
            catch (Exception e) when ((e is IOException or InvalidDataException or UnauthorizedAccessException) && e is not NewerFormatException)
            {
                // A damaged snapshot: an older one may stand in. A newer build's is not damaged, and falling back past
                // it would load an older state: the member stops instead (NewerFormatException).
                Log.SnapshotUnreadable(logger, path, e.Message);
                continue;
            }

            Log.RestoringSnapshot(logger, path, file.Index, file.Term, file.FileLength);
            using (var payload = file.OpenPayload())
            {
                machine.RestoreSnapshot(payload);
            }

            snapshot = file;
            appliedIndex = file.Index;
            schedule.ImageAt(file.PayloadLength, restarted: true);
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
        if (entry.PayloadLength > 0)
        {
            Apply(entry);
            schedule.Applied(entry.PayloadLength);
        }

        Volatile.Write(ref appliedIndex, entry.Index);
        if (schedule.IsPoint(entry.Index))
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
            var started = time.GetTimestamp();
            var results = machine.Apply(entry.Index, entry.Term, span);
            ClusterTimings.Apply.Record(time.GetElapsedTime(started).TotalSeconds);
            // Found by the origin in the entry's own bytes, never by DotNext's per-entry context (see ProposalPipeline).
            var batch = pending.Find(span);
            batch?.Applied(entry.Index, entry.Term);
            if (batch is not null && !batch.Complete(results))
            {
                Log.ResultCountMismatch(logger, entry.Index, batch.Count, results.Count);
            }
        }
        catch (Exception e)
        {
            // Apply must not throw (a rejected command is a result). If it does, the state is undefined: fail the
            // proposers and let DotNext stop applying on this member rather than diverge silently.
            pending.Find(span)?.Fail(new ConsensusUnavailableException(
                ConsensusUnavailableReason.ApplyFailed,
                $"The state machine failed to apply log entry {entry.Index}; this member stopped applying.", e));
            throw;
        }
    }

    /// <summary>
    /// Captures the state at <paramref name="index"/> for a snapshot and has it written and made durable in the
    /// background, after the one being made durable now, if any. Under the apply order only the capture runs (the state
    /// machine freezes its state, milliseconds per hundred thousand keys): the image is written while applies go on, so
    /// a snapshot of a large state does not stall writes (ADR 0017). A capture waiting behind another is superseded by
    /// a newer one (only the newest matters), so at most two are on their way at a time. Every point is captured, never
    /// skipped for a busy disk: the size of each image sets the next point (<see cref="SnapshotSchedule"/>), which must not
    /// differ between members, and the capture knows it exactly before a byte is written.
    /// </summary>
    private void CaptureSnapshot(long index, long term)
    {
        var started = time.GetTimestamp();
        ISnapshotImage capture;
        try
        {
            capture = machine.CaptureSnapshot();
        }
        catch (Exception e)
        {
            Log.SnapshotFailed(logger, index, e);
            return;
        }

        var captureMs = (long)time.GetElapsedTime(started).TotalMilliseconds;
        schedule.ImageAt(capture.Length);
        ISnapshotImage? superseded;
        lock (snapshotLock)
        {
            superseded = queued;
            queued = capture;
        }

        if (superseded is not null)
        {
            Log.SnapshotSuperseded(logger, index);
            superseded.Dispose();
        }

        persisting = PersistAfterAsync(persisting, capture, index, term, captureMs);
    }

    /// <summary>Writes a captured snapshot and makes it durable once the one before it is (unless a newer capture superseded it meanwhile).</summary>
    private async Task PersistAfterAsync(Task previous, ISnapshotImage capture, long index, long term, long captureMs)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        lock (snapshotLock)
        {
            if (!ReferenceEquals(queued, capture))
            {
                return; // superseded (and disposed) by a newer capture
            }

            queued = null;
        }

        // A thread of its own: writing a large image takes seconds of CPU and I/O, which the thread pool's few
        // workers (one per core) must not be held for. It runs at a lower priority (BackgroundPriority), so nothing
        // else may run on it: continuations go to the pool.
        await Task.Factory.StartNew(
            () =>
            {
                BackgroundPriority.LowerCurrentThread();
                Persist(capture, index, term, captureMs);
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning | TaskCreationOptions.RunContinuationsAsynchronously,
            TaskScheduler.Default).ConfigureAwait(false);
    }

    private void Persist(ISnapshotImage capture, long index, long term, long captureMs)
    {
        using (capture)
        {
            try
            {
                var persistStarted = time.GetTimestamp();
                using var image = SnapshotFile.Create(directory, index, term);
                capture.WriteTo(image);
                image.Seal();
                if (image.Length != capture.Length)
                {
                    throw new InvalidOperationException($"The snapshot image at index {index} is {image.Length} bytes; its capture announced {capture.Length}.");
                }

                var file = image.Commit();
                Publish(file);
                metrics.Snapshots.Add(1);
                Log.SnapshotWritten(logger, index, term, file.FileLength, captureMs, (long)time.GetElapsedTime(persistStarted).TotalMilliseconds);
            }
            catch (Exception e)
            {
                Log.SnapshotFailed(logger, index, e);
            }
        }
    }

    /// <summary>
    /// Gets the snapshot an InstallSnapshot names into a durable file, without touching the state. From a leader the
    /// entry is a <see cref="SnapshotDescriptor"/>: the image is fetched from the member it names in the background
    /// (<see cref="SnapshotCatchUp"/>) and this waits at most <see cref="InstallWait"/> for it, then answers "not yet"
    /// (<see cref="SnapshotNotReadyException"/>); the leader asks again with its next round, and the fetch goes on
    /// meanwhile. So a Raft request never waits for the transfer, whatever the state's size (ADR 0010). A learner's feed
    /// hands over a whole image instead, which is saved as it is.
    /// </summary>
    public async ValueTask<SnapshotFile> ReceiveSnapshotAsync<TEntry>(TEntry entry, long index, CancellationToken token)
        where TEntry : DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry
    {
        if (entry is SnapshotDescriptor local)
        {
            return await TakeFetchedAsync(local, index, token).ConfigureAwait(false);
        }

        if (entry.Length == SnapshotDescriptor.Size)
        {
            // A fixed-size stream: an entry longer than it declared fails here instead of growing a buffer.
            var bytes = new byte[SnapshotDescriptor.Size];
            using var writer = new MemoryStream(bytes, writable: true);
            await entry.WriteToAsync(DotNext.IO.IAsyncBinaryWriter.Create(writer, new byte[SnapshotDescriptor.Size]), token).ConfigureAwait(false);
            if (writer.Position == SnapshotDescriptor.Size && SnapshotDescriptor.IsDescriptor(bytes))
            {
                return await TakeFetchedAsync(SnapshotDescriptor.Parse(bytes), index, token).ConfigureAwait(false);
            }
        }

        Log.InstallingSnapshot(logger, index, entry.Term);
        return await SnapshotFile.ReceiveAsync(directory, entry, index, token).ConfigureAwait(false);
    }

    private async ValueTask<SnapshotFile> TakeFetchedAsync(SnapshotDescriptor descriptor, long index, CancellationToken token)
    {
        if (descriptor.Index != index)
        {
            throw new InvalidDataException($"InstallSnapshot at index {index} carries a descriptor of {descriptor}.");
        }

        var path = await catchUp.TryTakeAsync(descriptor, InstallWait, token).ConfigureAwait(false)
            ?? throw new SnapshotNotReadyException(descriptor.Index, catchUp.ReceivedBytes, descriptor.FileLength);
        Log.InstallingSnapshot(logger, index, descriptor.Term);
        return SnapshotFile.Commit(directory, path, descriptor.Index, descriptor.Term, descriptor.Hash);
    }

    /// <summary>
    /// Makes <paramref name="file"/> (from <see cref="ReceiveSnapshotAsync{TEntry}"/>) this member's state, under the
    /// apply order; the state machine is rebuilt from it in the background (about 0.5 s per 30 MB here). Entries after
    /// the snapshot, and linearizable reads (<see cref="Restored"/>), wait for the rebuild.
    /// </summary>
    public async ValueTask InstallAsync(SnapshotFile file)
    {
        var started = time.GetTimestamp();
        await persisting.ConfigureAwait(false);
        var index = file.Index;

        // Durable now: a crash from here on restarts from this file. Open it before anything can delete it.
        var payload = file.OpenPayload();
        Publish(file);
        schedule.ImageAt(file.PayloadLength, restarted: true);
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

            Log.SnapshotInstalled(logger, index, file.FileLength, (long)time.GetElapsedTime(started).TotalMilliseconds);
        }));
    }

    /// <summary>
    /// How long an InstallSnapshot waits for the image to finish fetching before it answers "not yet": a small part of
    /// the peer request timeout, so the answer (above all the one that installs) always beats the leader's timeout.
    /// </summary>
    public TimeSpan InstallWait { get; init; } = TimeSpan.FromMilliseconds(50);

    // ---- Serving snapshots to peers ----

    /// <summary>
    /// What a leader sends for the snapshot at <paramref name="index"/> (its log's start): a descriptor of it, naming
    /// this member as the source. With <paramref name="hold"/>, the image described is kept for <see cref="PinGrace"/>
    /// from now, so that a newer snapshot taken before the peer's first fetch request arrives does not delete what the
    /// peer was just told to fetch. Only for a peer known to be there (a learner's request being answered): Raft's reads
    /// describe the snapshot to unreachable members too, and a pin for each would hold the log back for nobody.
    /// </summary>
    public SnapshotDescriptor DescribeRetained(long index, bool hold = false)
    {
        lock (snapshotLock)
        {
            SnapshotFile file;
            if (snapshot is { } newest && newest.Index == index)
            {
                file = newest;
                if (hold)
                {
                    var now = time.GetTimestamp();
                    if (pins.TryGetValue(index, out var held))
                    {
                        held.LastUse = now;
                    }
                    else
                    {
                        pins[index] = new Pin(newest, now);
                    }
                }
            }
            else if (pins.TryGetValue(index, out var pin))
            {
                file = pin.File;
                if (hold)
                {
                    pin.LastUse = time.GetTimestamp();
                }
            }
            else
            {
                file = snapshot ?? throw new InvalidOperationException($"No snapshot is kept at index {index}.");
            }

            return SnapshotDescriptor.Of(file, localId);
        }
    }

    /// <summary>
    /// Opens the image a peer asks for, if this member still holds it, and pins it: it and the log after it stay
    /// (<see cref="CompactionIndex"/>) while the peer fetches and for <see cref="PinGrace"/> after. Dispose the lease
    /// when the transfer ends.
    /// </summary>
    public SnapshotLease? TryServe(long index, long term, ulong hash)
    {
        lock (snapshotLock)
        {
            SnapshotFile? file = null;
            if (pins.TryGetValue(index, out var pin) && pin.File.Term == term && pin.File.Hash == hash)
            {
                file = pin.File;
            }
            else if (snapshot is { } newest && newest.Index == index && newest.Term == term && newest.Hash == hash)
            {
                file = newest;
                pin = new Pin(file, time.GetTimestamp());
                pins[index] = pin;
            }

            if (file is null || pin is null || !File.Exists(file.Path))
            {
                return null;
            }

            pin.Active++;
            pin.LastUse = time.GetTimestamp();
            return SnapshotLease.Create(this, pin);
        }
    }

    /// <summary>
    /// Keeps the image <paramref name="snapshot"/> names, and the log after it, for <see cref="PinGrace"/> (renewed by
    /// each call) if this member holds that image: a member fetching it from elsewhere asks, so that this member, if it
    /// becomes leader meanwhile, offers the same image and the fetch continues. False when this member does not hold it.
    /// </summary>
    public bool Hold(SnapshotDescriptor snapshot)
    {
        using var lease = TryServe(snapshot.Index, snapshot.Term, snapshot.Hash);
        return lease is not null && lease.File.FileLength == snapshot.FileLength;
    }

    private void Release(Pin pin)
    {
        lock (snapshotLock)
        {
            pin.Active--;
            pin.LastUse = time.GetTimestamp();
        }
    }

    /// <summary>
    /// Index through which the log may be dropped: the newest durable snapshot's, or an older one's while a peer is
    /// fetching that (so that, once installed, the peer continues from the log rather than from a newer snapshot).
    /// </summary>
    public long CompactionIndex
    {
        get
        {
            lock (snapshotLock)
            {
                var through = snapshot?.Index ?? 0;
                foreach (var pin in pins.Values)
                {
                    var idle = pin.Active == 0 && time.GetElapsedTime(pin.LastUse) > PinGrace;
                    if (!idle && time.GetElapsedTime(pin.Created) < MaxPin)
                    {
                        through = Math.Min(through, pin.File.Index);
                    }
                }

                return through;
            }
        }
    }

    /// <summary>The log was compacted through <paramref name="index"/>: pins below it keep nothing anymore.</summary>
    public void Compacted(long index)
    {
        lock (snapshotLock)
        {
            foreach (var key in pins.Keys.Where(k => k < index).ToList())
            {
                pins.Remove(key);
            }
        }
    }

    /// <summary>A snapshot a peer fetches (or fetched a moment ago) and the log after it, kept.</summary>
    internal sealed class Pin(SnapshotFile file, long created)
    {
        public SnapshotFile File { get; } = file;

        public long Created { get; } = created;

        public int Active { get; set; }

        public long LastUse { get; set; } = created;
    }

    /// <summary>A peer's use of a pinned snapshot; disposing it starts the pin's grace period.</summary>
    internal sealed class SnapshotLease : IDisposable
    {
        private readonly SnapshottingStateMachine owner;
        private readonly Pin pin;
        private int disposed;

        private SnapshotLease(SnapshottingStateMachine owner, Pin pin)
        {
            this.owner = owner;
            this.pin = pin;
        }

        public SnapshotFile File => pin.File;

        internal static SnapshotLease Create(SnapshottingStateMachine owner, Pin pin) => new(owner, pin);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                owner.Release(pin);
            }
        }
    }

    /// <summary>Completes once the newest snapshot received from the leader is loaded into the state machine.</summary>
    public Task Restored => Volatile.Read(ref restoring);

    /// <summary>The clock of this member (the node's <see cref="RaftNodeOptions.TimeProvider"/>), for the log and the snapshot transfer.</summary>
    internal TimeProvider Time => time;

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
        HashSet<long> pinned;
        lock (snapshotLock)
        {
            pinned = [.. pins.Keys];
        }

        foreach (var (path, index, _) in SnapshotFile.List(directory))
        {
            if (index < watermark && index != current && !pinned.Contains(index))
            {
                try
                {
                    reclaimer.Delete(path);
                    Log.SnapshotDeleted(logger, Path.GetFileName(path), watermark);
                }
                catch (IOException e)
                {
                    Log.FileDeleteFailed(logger, path, e.Message);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Old snapshot files being deleted in the background; completes when those queued so far are gone.</summary>
    internal Task Reclaimed => reclaimer.Idle;

    /// <summary>Stops a snapshot fetch, and waits for a snapshot being written and old ones being deleted in the background.</summary>
    public async ValueTask DisposeAsync()
    {
        await catchUp.DisposeAsync().ConfigureAwait(false);
        await persisting.ConfigureAwait(false);
        await restoring.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await reclaimer.DrainAsync().ConfigureAwait(false);
    }
}

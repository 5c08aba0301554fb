using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Conclave's Raft log: the entries after the newest snapshot in memory, and on disk as <see cref="LogSegments"/>
/// written by one flusher thread that makes everything appended since its last write durable with one write and
/// one <c>fdatasync</c> (group commit), together with the term, the vote and the commit index.
/// </summary>
/// <remarks>
/// <para>
/// The contract is DotNext's <see cref="IPersistentState"/> (see <see cref="PersistentStateShell"/>), kept as its
/// <c>WriteAheadLog</c> keeps it: a leader's append returns at once and <see cref="CommitAsync"/> waits until the
/// entries it commits are durable here; a follower's append (AppendEntries) returns once its entries are durable,
/// because the leader counts the answer toward a majority; a term or vote is durable before it is acted on.
/// Committed entries are applied in order by one background loop; configuration entries go to the membership
/// storage first, as DotNext does.
/// </para>
/// <para>
/// Snapshots bound the memory and the files: once the state machine has a durable snapshot at index S, the
/// entries up to S leave memory, and segments holding nothing after S are deleted. A read from at or below S
/// answers with the snapshot first, which makes the leader send it as InstallSnapshot.
/// </para>
/// </remarks>
internal sealed class RaftLog : IReplaySink, IAsyncDisposable
{
    private readonly Lock sync = new();
    private readonly SnapshottingStateMachine machine;
    private readonly ILogger logger;
    private readonly List<StoredEntry> entries = [];
    private readonly AutoResetEvent wake = new(false);
    private readonly SemaphoreSlim applyWake = new(0);
    private readonly SemaphoreSlim applyGate = new(1, 1);
    private readonly CancellationTokenSource stopping = new();
    private LogSegments files = null!;
    private Thread? flusher;
    private Task applier = Task.CompletedTask;
    private long baseIndex;
    private long lastIndex;
    private long commitIndex;
    private long appliedIndex;
    private long term;
    private ClusterMemberId? vote;
    private long replayedCommit;
    private Generation open = new();
    private Generation? writing;
    private int flushRequested;
    private long deleteThrough;
    private long writtenCommit;
    private long truncations;
    private Task deleting = Task.CompletedTask;
    private Exception? failure;
    private bool closing;
    private TaskCompletionSource appliedChanged = NewSignal();
    private int initialized;
    private int disposed;

    private RaftLog(SnapshottingStateMachine machine, IClusterConfigurationStorage? configuration, ILogger logger)
    {
        this.machine = machine;
        Configuration = configuration;
        this.logger = logger;
    }

    /// <summary>Where configuration entries are saved when applied (the Raft membership).</summary>
    public IClusterConfigurationStorage? Configuration { get; }

    public long LastEntryIndex => Volatile.Read(ref lastIndex);

    public long LastCommittedEntryIndex => Volatile.Read(ref commitIndex);

    public long LastAppliedIndex => Volatile.Read(ref appliedIndex);

    /// <summary>The first index the log still holds (entries before it are in a snapshot only).</summary>
    public long FirstEntryIndex => Volatile.Read(ref baseIndex) + 1;

    public long Term => Volatile.Read(ref term);

    /// <summary>Flushes so far, each one write and one fdatasync (for tests and metrics).</summary>
    public long FramesWritten => Volatile.Read(ref framesWritten);

    private long framesWritten;

    /// <summary>The segment files (for tests).</summary>
    internal IReadOnlyList<string> Files => files.Files;

    /// <summary>
    /// Opens the log in <paramref name="directory"/> after <paramref name="machine"/> restored its newest snapshot:
    /// replays the segments (entries after the snapshot, term, vote, commit index) and applies what was committed.
    /// </summary>
    public static async Task<RaftLog> OpenAsync(
        string directory, long segmentSize, SnapshottingStateMachine machine, IClusterConfigurationStorage? configuration, ILogger logger,
        CancellationToken cancellationToken)
    {
        var log = new RaftLog(machine, configuration, logger);
        log.baseIndex = log.lastIndex = log.commitIndex = log.appliedIndex = machine.SnapshotIndex;
        log.files = LogSegments.Open(directory, segmentSize, machine.SnapshotIndex, log, machine.Time, logger);
        log.commitIndex = Math.Min(Math.Max(log.replayedCommit, log.baseIndex), log.lastIndex);
        log.flusher = new Thread(log.FlushLoop) { IsBackground = true, Name = "conclave-raft-log" };
        log.flusher.Start();
        log.applier = Task.Run(log.ApplyLoopAsync);
        try
        {
            await log.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await log.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return log;
    }

    void IReplaySink.Entry(StoredEntry entry)
    {
        if (entry.Index <= lastIndex)
        {
            Truncate(entry.Index);
        }

        entries.Add(entry);
        lastIndex = entry.Index;
    }

    void IReplaySink.State(in LogState state)
    {
        term = state.Term;
        vote = state.Vote;
        replayedCommit = Math.Max(replayedCommit, state.Commit);
    }

    /// <summary>Applies the committed entries (once; RaftCluster.StartAsync calls it again).</summary>
    public async Task InitializeAsync(CancellationToken token)
    {
        if (Interlocked.Exchange(ref initialized, 1) == 0)
        {
            applyWake.Release();
            await WaitForApplyAsync(LastCommittedEntryIndex, token).ConfigureAwait(false);
        }
    }

    // ---- Term and vote ----

    public bool IsVotedFor(in ClusterMemberId id)
    {
        lock (sync)
        {
            return vote is null || vote.Value == id;
        }
    }

    public async ValueTask<long> IncrementTermAsync(ClusterMemberId member, CancellationToken token)
    {
        Task durable;
        long result;
        lock (sync)
        {
            ThrowIfFailed();
            result = ++term;
            vote = member;
            durable = ForceFlushAsync();
        }

        RequestFlush();
        await durable.WaitAsync(token).ConfigureAwait(false);
        return result;
    }

    public async ValueTask UpdateTermAsync(long value, bool resetLastVote, CancellationToken token)
    {
        Task durable;
        lock (sync)
        {
            ThrowIfFailed();
            term = value;
            if (resetLastVote)
            {
                vote = null;
            }

            durable = ForceFlushAsync();
        }

        RequestFlush();
        await durable.WaitAsync(token).ConfigureAwait(false);
    }

    public async ValueTask UpdateVotedForAsync(ClusterMemberId member, CancellationToken token)
    {
        Task durable;
        lock (sync)
        {
            ThrowIfFailed();
            vote = member;
            durable = ForceFlushAsync();
        }

        RequestFlush();
        await durable.WaitAsync(token).ConfigureAwait(false);
    }

    // ---- Appending ----

    /// <summary>A leader's append: the next index; durable by the time <see cref="CommitAsync"/> commits it.</summary>
    public async ValueTask<long> AppendAsync<TEntry>(TEntry entry, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        if (entry.IsSnapshot)
        {
            throw new InvalidOperationException("A snapshot cannot be appended at the end of the log.");
        }

        var payload = await StoredEntry.CopyPayloadAsync(entry, token).ConfigureAwait(false);
        long index;
        lock (sync)
        {
            ThrowIfFailed();
            index = lastIndex + 1;
            Add(StoredEntry.Of(entry, index, payload));
        }

        RequestFlush();
        return index;
    }

    /// <summary>Puts <paramref name="entry"/> at <paramref name="startIndex"/> (replacing what is there), or installs a snapshot.</summary>
    public async ValueTask AppendAsync<TEntry>(TEntry entry, long startIndex, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startIndex);
        if (entry.IsSnapshot)
        {
            await InstallSnapshotAsync(entry, startIndex, token).ConfigureAwait(false);
            return;
        }

        var copy = StoredEntry.Of(entry, startIndex, await StoredEntry.CopyPayloadAsync(entry, token).ConfigureAwait(false));
        lock (sync)
        {
            ThrowIfFailed();
            Place(copy);
        }

        RequestFlush();
    }

    /// <summary>
    /// A follower's AppendEntries: puts the entries from <paramref name="startIndex"/> on, and returns once they are
    /// durable (the leader counts the answer toward a majority; Raft requires the entries to be persisted first).
    /// </summary>
    public async ValueTask AppendAsync<TEntry>(ILogEntryProducer<TEntry> source, long startIndex, bool skipCommitted, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startIndex);
        var copies = new List<StoredEntry>();
        var index = startIndex;
        while (await source.MoveNextAsync().ConfigureAwait(false))
        {
            var entry = source.Current;
            if (entry is null || entry.IsSnapshot)
            {
                throw new InvalidOperationException("A snapshot cannot be appended among log entries.");
            }

            copies.Add(StoredEntry.Of(entry, index++, await StoredEntry.CopyPayloadAsync(entry, token).ConfigureAwait(false)));
        }

        Task durable;
        lock (sync)
        {
            ThrowIfFailed();
            if (startIndex > lastIndex + 1)
            {
                throw new ArgumentOutOfRangeException(nameof(startIndex), $"Entry {startIndex} would leave a gap after the last entry {lastIndex}.");
            }

            foreach (var copy in copies)
            {
                if (copy.Index <= commitIndex)
                {
                    if (!skipCommitted)
                    {
                        throw new InvalidOperationException($"Entry {copy.Index} is committed and cannot be replaced.");
                    }

                    continue;
                }

                Place(copy);
            }

            durable = DurableThroughAsync(lastIndex);
        }

        RequestFlush();
        await durable.WaitAsync(token).ConfigureAwait(false);
    }

    /// <summary>Under the lock: puts an entry at its index, replacing that entry and everything after it.</summary>
    private void Place(StoredEntry entry)
    {
        if (entry.Index > lastIndex + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(entry), $"Entry {entry.Index} would leave a gap after the last entry {lastIndex}.");
        }

        if (entry.Index <= commitIndex)
        {
            throw new InvalidOperationException($"Entry {entry.Index} is committed and cannot be replaced.");
        }

        if (entry.Index <= lastIndex)
        {
            if (EntryAt(entry.Index) is { } existing && existing.Term == entry.Term)
            {
                // Already here (a resent AppendEntries): Raft truncates only on a conflicting term, so entries
                // after it that this member may have acknowledged stay.
                return;
            }

            Truncate(entry.Index);
        }

        Add(entry);
    }

    /// <summary>Under the lock: appends at the end and queues the entry for the next flush.</summary>
    private void Add(StoredEntry entry)
    {
        entries.Add(entry);
        Volatile.Write(ref lastIndex, entry.Index);
        open.Entries.Add(entry);
        open.MinIndex = Math.Min(open.MinIndex, entry.Index);
    }

    /// <summary>Drops the entries from <paramref name="index"/> on (in memory; on disk the next frame supersedes them).</summary>
    private void Truncate(long index)
    {
        var keep = (int)(index - baseIndex - 1);
        entries.RemoveRange(keep, entries.Count - keep);
        Volatile.Write(ref lastIndex, index - 1);
        truncations++;
    }

    private async ValueTask InstallSnapshotAsync<TEntry>(TEntry snapshot, long index, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        if (index <= LastCommittedEntryIndex)
        {
            throw new InvalidOperationException($"A snapshot at {index} is not newer than the commit index {LastCommittedEntryIndex}.");
        }

        // Fetched (or saved) first, outside the apply order: applies go on while the image arrives.
        var file = await machine.ReceiveSnapshotAsync(snapshot, index, token).ConfigureAwait(false);

        // No apply runs meanwhile: the state machine is replaced under the apply order.
        await applyGate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (index <= LastCommittedEntryIndex)
            {
                throw new InvalidOperationException($"A snapshot at {index} is not newer than the commit index {LastCommittedEntryIndex}.");
            }

            await machine.InstallAsync(file).ConfigureAwait(false);
            lock (sync)
            {
                // Entries after the snapshot stay (the leader overwrites any that differ); those up to it go.
                Volatile.Write(ref commitIndex, Math.Max(commitIndex, index));
                Volatile.Write(ref appliedIndex, Math.Max(appliedIndex, index));
                if (lastIndex <= index)
                {
                    entries.Clear();
                    Volatile.Write(ref lastIndex, index);
                }
                else
                {
                    entries.RemoveRange(0, (int)(index - baseIndex));
                }

                baseIndex = index;
                deleteThrough = Math.Max(deleteThrough, index);
                open.Forced = true;
            }
        }
        finally
        {
            applyGate.Release();
        }

        RequestFlush();
        SignalApplied();
    }

    // ---- Commit and apply ----

    /// <summary>Commits up to <paramref name="endIndex"/> once those entries are durable here; returns how many were newly committed.</summary>
    public async ValueTask<long> CommitAsync(long endIndex, CancellationToken token)
    {
        Task durable;
        long epoch;
        lock (sync)
        {
            ThrowIfFailed();
            if (endIndex < 0 || endIndex > lastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(endIndex), $"Cannot commit {endIndex}: the log ends at {lastIndex}.");
            }

            durable = DurableThroughAsync(endIndex);
            epoch = truncations;
        }

        long committed;
        while (true)
        {
            if (!durable.IsCompleted)
            {
                RequestFlush();
                await durable.WaitAsync(token).ConfigureAwait(false);
            }

            lock (sync)
            {
                ThrowIfFailed();
                if (epoch != truncations)
                {
                    // The tail was replaced while we waited: what is at those indexes now must be durable too.
                    epoch = truncations;
                    durable = DurableThroughAsync(Math.Min(endIndex, lastIndex));
                    continue;
                }

                // Commit only what is still there (a replaced tail can be shorter).
                var target = Math.Min(endIndex, lastIndex);
                committed = Math.Max(0, target - commitIndex);
                if (committed > 0)
                {
                    Volatile.Write(ref commitIndex, target);
                }

                break;
            }
        }

        if (committed > 0)
        {
            applyWake.Release();
        }

        return committed;
    }

    public ValueTask WaitForApplyAsync(CancellationToken token)
    {
        ThrowIfFailed();
        return new ValueTask(Volatile.Read(ref appliedChanged).Task.WaitAsync(token));
    }

    public ValueTask WaitForApplyAsync(long index, CancellationToken token)
    {
        ThrowIfFailed();
        return LastAppliedIndex >= index ? ValueTask.CompletedTask : WaitForApplySlowAsync(index, token);
    }

    private async ValueTask WaitForApplySlowAsync(long index, CancellationToken token)
    {
        while (true)
        {
            var changed = Volatile.Read(ref appliedChanged).Task;
            if (LastAppliedIndex >= index)
            {
                return;
            }

            ThrowIfFailed();
            await changed.WaitAsync(token).ConfigureAwait(false);
        }
    }

    private void SignalApplied() => Interlocked.Exchange(ref appliedChanged, NewSignal()).TrySetResult();

    private async Task ApplyLoopAsync()
    {
        var token = stopping.Token;
        try
        {
            while (true)
            {
                await applyWake.WaitAsync(token).ConfigureAwait(false);
                await applyGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    while (true)
                    {
                        StoredEntry? entry;
                        lock (sync)
                        {
                            if (appliedIndex >= commitIndex)
                            {
                                break;
                            }

                            entry = EntryAt(appliedIndex + 1);
                        }

                        if (entry is null)
                        {
                            throw new InvalidOperationException($"Committed entry {LastAppliedIndex + 1} is missing from the log.");
                        }

                        if (entry.IsConfiguration)
                        {
                            // The membership, not the state machine's business (saved unless no storage is set yet:
                            // the storage persists it by itself, and a leader sends it with every snapshot).
                            if (Configuration is { } configuration)
                            {
                                await configuration.SaveConfigurationAsync(entry, entry.Index, token).ConfigureAwait(false);
                                (configuration as PeerConfigurationStorage)?.MakePrivate();
                            }

                            entry = new StoredEntry(entry.Index, entry.Term, [], isConfiguration: true, entry.CommandId);
                        }

                        await machine.ApplyAsync(entry, token).ConfigureAwait(false);
                        Volatile.Write(ref appliedIndex, entry.Index);
                        SignalApplied();
                    }
                }
                finally
                {
                    applyGate.Release();
                }

                CompactBehindSnapshot();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The state machine failed: its state is undefined, so this member stops applying (as DotNext's WAL does).
            Fail(e);
        }
    }

    /// <summary>Drops the entries a durable snapshot covers, and has the flusher delete their segments.</summary>
    private void CompactBehindSnapshot()
    {
        var snapshot = machine.CompactionIndex;
        if (snapshot <= Volatile.Read(ref baseIndex))
        {
            return;
        }

        lock (sync)
        {
            if (snapshot <= baseIndex)
            {
                return;
            }

            var drop = (int)Math.Min(entries.Count, snapshot - baseIndex);
            entries.RemoveRange(0, drop);
            baseIndex = snapshot;
            deleteThrough = Math.Max(deleteThrough, snapshot);
        }

        RequestFlush();
        machine.Compacted(snapshot);
        _ = machine.ReclaimGarbageAsync(snapshot, CancellationToken.None).AsTask();
    }

    // ---- Reading ----

    /// <summary>
    /// Entries <paramref name="startIndex"/> to <paramref name="endIndex"/>; when the start is at or below the
    /// newest snapshot, the snapshot comes first (then the entries after it) and its index is returned.
    /// </summary>
    public (IRaftLogEntry[] Entries, long? SnapshotIndex) Read(long startIndex, long endIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(startIndex);
        lock (sync)
        {
            ThrowIfFailed();
            if (endIndex < 0 || endIndex > lastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(endIndex), $"Cannot read up to {endIndex}: the log ends at {lastIndex}.");
            }

            if (startIndex > endIndex)
            {
                return ([], null);
            }

            if (startIndex <= baseIndex && baseIndex > 0)
            {
                // The log starts after a snapshot: a peer that needs what is before gets a description of the snapshot
                // and fetches the image itself (ADR 0010).
                var snapshot = machine.DescribeRetained(baseIndex);
                var from = snapshot.Index + 1;
                var to = Math.Max(endIndex, snapshot.Index);
                var list = new IRaftLogEntry[to - from + 2];
                list[0] = snapshot;
                for (var i = from; i <= to; i++)
                {
                    list[i - from + 1] = EntryAt(i) ?? throw new InvalidOperationException($"Entry {i} after snapshot {snapshot.Index} is missing.");
                }

                return (list, snapshot.Index);
            }

            var result = new IRaftLogEntry[endIndex - startIndex + 1];
            for (var i = startIndex; i <= endIndex; i++)
            {
                result[i - startIndex] = EntryAt(i) ?? throw new InvalidOperationException($"Entry {i} is behind the log's start and there is no snapshot covering it.");
            }

            return (result, null);
        }
    }

    public ValueTask<TResult> ReadAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> reader, long startIndex, long endIndex, CancellationToken token)
    {
        var (list, snapshotIndex) = Read(startIndex, endIndex);
        return reader.ReadAsync<IRaftLogEntry, IRaftLogEntry[]>(list, snapshotIndex, token);
    }

    /// <summary>Under the lock: the entry at <paramref name="index"/>, or null when a snapshot replaced it.</summary>
    private StoredEntry? EntryAt(long index)
    {
        if (index == 0)
        {
            return StoredEntry.Initial;
        }

        var offset = index - baseIndex - 1;
        return offset >= 0 && offset < entries.Count ? entries[(int)offset] : null;
    }

    // ---- Flushing ----

    /// <summary>Under the lock: completes when every entry up to <paramref name="index"/> is durable.</summary>
    private Task DurableThroughAsync(long index)
    {
        if (open.MinIndex <= index)
        {
            return open.Done.Task;
        }

        return writing is not null && writing.MinIndex <= index ? writing.Done.Task : Task.CompletedTask;
    }

    /// <summary>Under the lock: the next flush must happen (term or vote changed) and this completes after it.</summary>
    private Task ForceFlushAsync()
    {
        open.Forced = true;
        return open.Done.Task;
    }

    private void RequestFlush()
    {
        if (Interlocked.Exchange(ref flushRequested, 1) == 0)
        {
            wake.Set();
        }
    }

    private void FlushLoop()
    {
        while (true)
        {
            wake.WaitOne();
            Volatile.Write(ref flushRequested, 0);
            Generation generation;
            LogState state;
            long delete;
            bool stop;
            lock (sync)
            {
                stop = closing;
                delete = deleteThrough;
                generation = open;
                // On the way out one last frame records the commit index, so a restart applies everything at once.
                if (failure is not null || (generation.Entries.Count == 0 && !generation.Forced && !(stop && commitIndex > writtenCommit)))
                {
                    generation = null!;
                }
                else
                {
                    writing = generation;
                    open = new Generation();
                }

                state = new LogState(term, commitIndex, vote);
            }

            if (generation is not null)
            {
                try
                {
                    files.Append(generation.Entries, state);
                    writtenCommit = state.Commit;
                    Interlocked.Increment(ref framesWritten);
                }
                catch (Exception e)
                {
                    Log.WalWriteFailed(logger, e);
                    Fail(e);
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

    private void Fail(Exception e)
    {
        Generation? a, b;
        lock (sync)
        {
            failure ??= e;
            a = open;
            b = writing;
            open = new Generation();
            writing = null;
        }

        var error = new IOException($"The Raft log stopped after an error and takes no more writes on this member: {failure.Message}", failure);
        a.Done.TrySetException(error);
        b?.Done.TrySetException(error);
        Interlocked.Exchange(ref appliedChanged, NewSignal()).TrySetException(error);
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref failure) is { } e)
        {
            throw new IOException($"The Raft log stopped after an error and takes no more writes on this member: {e.Message}", e);
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
    }

    /// <summary>Writes what is still pending, stops the flusher and the apply loop, and closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        await applier.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (sync)
        {
            closing = true;
        }

        wake.Set();
        if (flusher is { } thread)
        {
            await Task.Run(thread.Join).ConfigureAwait(false);
        }

        Generation left;
        lock (sync)
        {
            left = open;
        }

        left.Done.TrySetException(new ObjectDisposedException(nameof(RaftLog)));
        await deleting.ConfigureAwait(false);
        files?.Dispose();
        wake.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What one flush writes: the entries appended since the previous one, and who waits for it.</summary>
    private sealed class Generation
    {
        public List<StoredEntry> Entries { get; } = [];

        public long MinIndex { get; set; } = long.MaxValue;

        public bool Forced { get; set; }

        public TaskCompletionSource Done { get; } = NewSignal();
    }
}

using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Conclave's Raft log: the entries after the newest snapshot in memory (<see cref="LogEntries"/>), and on disk as
/// <see cref="LogSegments"/> written by one flusher thread (<see cref="LogFlusher"/>) that makes everything appended since
/// its last write durable with one write and one <c>fdatasync</c> (group commit), together with the term, the vote and the
/// commit index; committed entries are applied by <see cref="LogApplier"/>. This type holds the term, vote and commit
/// index and keeps the three parts consistent under one lock.
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
    private readonly LogEntries entries;
    private readonly LogApplier applier;
    private LogFlusher flusher = null!;
    private long commitIndex;
    private long term;
    private ClusterMemberId? vote;
    private long replayedCommit;
    private Exception? failure;
    private int initialized;
    private int disposed;
    private long cacheBytes = RaftNodeOptions.DefaultLogCacheBytes;

    /// <summary>The payload bytes kept once applied while <see cref="Replicates"/> says no other member reads the log.</summary>
    internal const long AloneCacheBytes = 1024 * 1024;

    /// <summary>
    /// Whether another member may read recent entries from this log (Raft followers, learners being fed); while it says
    /// no, applied payloads beyond <see cref="AloneCacheBytes"/> leave memory at once. Null (before the node is built):
    /// the whole cache is kept. Entries that left memory are read back from the segments if a member comes after all.
    /// </summary>
    internal Func<bool>? Replicates { get; set; }

    private RaftLog(SnapshottingStateMachine machine, IClusterConfigurationStorage? configuration)
    {
        this.machine = machine;
        entries = new LogEntries(machine.SnapshotIndex);
        commitIndex = machine.SnapshotIndex;
        applier = new LogApplier(machine.SnapshotIndex, NextToApply, machine, configuration, CompactBehindSnapshot, Fail, ThrowIfFailed);
    }

    public long LastEntryIndex => entries.LastIndex;

    public long LastCommittedEntryIndex => Volatile.Read(ref commitIndex);

    public long LastAppliedIndex => applier.AppliedIndex;

    /// <summary>Payload bytes of the log held in memory (the rest is read from the segments when needed).</summary>
    public long ResidentBytes
    {
        get
        {
            lock (sync)
            {
                return entries.ResidentBytes;
            }
        }
    }

    /// <summary>The first index the log still holds (entries before it are in a snapshot only).</summary>
    public long FirstEntryIndex => entries.BaseIndex + 1;

    public long Term => Volatile.Read(ref term);

    /// <summary>Flushes so far, each one write and one fdatasync (for tests and metrics).</summary>
    public long FramesWritten => flusher.FramesWritten;

    /// <summary>The segment files (for tests).</summary>
    internal IReadOnlyList<string> Files => flusher.Files;

    /// <summary>
    /// Opens the log in <paramref name="directory"/> after <paramref name="machine"/> restored its newest snapshot:
    /// replays the segments (entries after the snapshot, term, vote, commit index) and applies what was committed.
    /// </summary>
    public static async Task<RaftLog> OpenAsync(
        string directory, long segmentSize, SnapshottingStateMachine machine, IClusterConfigurationStorage? configuration, ILogger logger,
        CancellationToken cancellationToken, long cacheBytes = RaftNodeOptions.DefaultLogCacheBytes)
    {
        var log = new RaftLog(machine, configuration) { cacheBytes = cacheBytes };
        var files = LogSegments.Open(directory, segmentSize, machine.SnapshotIndex, log, machine.Time, logger);
        log.commitIndex = Math.Min(Math.Max(log.replayedCommit, log.entries.BaseIndex), log.entries.LastIndex);
        log.flusher = new LogFlusher(log.sync, files, () => new LogState(log.term, log.commitIndex, log.vote), () => log.failure is not null, log.Fail, logger, machine.Time);
        log.applier.Start();
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
        if (entry.Index <= entries.LastIndex)
        {
            entries.TruncateFrom(entry.Index);
        }

        entries.Add(entry);
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
            applier.Wake();
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
            durable = flusher.ForceAsync();
        }

        flusher.Request();
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

            durable = flusher.ForceAsync();
        }

        flusher.Request();
        await durable.WaitAsync(token).ConfigureAwait(false);
    }

    public async ValueTask UpdateVotedForAsync(ClusterMemberId member, CancellationToken token)
    {
        Task durable;
        lock (sync)
        {
            ThrowIfFailed();
            vote = member;
            durable = flusher.ForceAsync();
        }

        flusher.Request();
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
            index = entries.LastIndex + 1;
            Add(StoredEntry.Of(entry, index, payload));
        }

        flusher.Request();
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

        flusher.Request();
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
            if (startIndex > entries.LastIndex + 1)
            {
                throw new ArgumentOutOfRangeException(nameof(startIndex), $"Entry {startIndex} would leave a gap after the last entry {entries.LastIndex}.");
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

            durable = flusher.DurableThroughAsync(entries.LastIndex);
        }

        flusher.Request();
        await durable.WaitAsync(token).ConfigureAwait(false);
    }

    /// <summary>Under the lock: puts an entry at its index, replacing that entry and everything after it.</summary>
    private void Place(StoredEntry entry)
    {
        if (entry.Index > entries.LastIndex + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(entry), $"Entry {entry.Index} would leave a gap after the last entry {entries.LastIndex}.");
        }

        if (entry.Index <= commitIndex)
        {
            throw new InvalidOperationException($"Entry {entry.Index} is committed and cannot be replaced.");
        }

        if (entry.Index <= entries.LastIndex)
        {
            if (entries.At(entry.Index) is { } existing && existing.Term == entry.Term)
            {
                // Already here (a resent AppendEntries): Raft truncates only on a conflicting term, so entries
                // after it that this member may have acknowledged stay.
                return;
            }

            entries.TruncateFrom(entry.Index);
        }

        Add(entry);
    }

    /// <summary>Under the lock: appends at the end and queues the entry for the next flush.</summary>
    private void Add(StoredEntry entry)
    {
        entries.Add(entry);
        flusher.Queue(entry);
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
        await applier.ReplaceAsync(
            index,
            async () =>
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
                    entries.StartAfter(index);
                    flusher.DeleteThrough(index);
                    flusher.RecordState(); // the new commit index
                }

                flusher.Request();
            },
            token).ConfigureAwait(false);
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
            if (endIndex < 0 || endIndex > entries.LastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(endIndex), $"Cannot commit {endIndex}: the log ends at {entries.LastIndex}.");
            }

            durable = flusher.DurableThroughAsync(endIndex);
            epoch = entries.Truncations;
        }

        long committed;
        while (true)
        {
            if (!durable.IsCompleted)
            {
                flusher.Request();
                await durable.WaitAsync(token).ConfigureAwait(false);
            }

            lock (sync)
            {
                ThrowIfFailed();
                if (epoch != entries.Truncations)
                {
                    // The tail was replaced while we waited: what is at those indexes now must be durable too.
                    epoch = entries.Truncations;
                    durable = flusher.DurableThroughAsync(Math.Min(endIndex, entries.LastIndex));
                    continue;
                }

                // Commit only what is still there (a replaced tail can be shorter).
                var target = Math.Min(endIndex, entries.LastIndex);
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
            applier.Wake();
        }

        return committed;
    }

    public ValueTask WaitForApplyAsync(CancellationToken token)
    {
        ThrowIfFailed();
        return new ValueTask(applier.NextChange.WaitAsync(token));
    }

    public ValueTask WaitForApplyAsync(long index, CancellationToken token) => applier.WaitForAppliedAsync(index, token);

    /// <summary>For the applier: the next committed entry to apply, or null when all are applied.</summary>
    private StoredEntry? NextToApply()
    {
        lock (sync)
        {
            var applied = applier.AppliedIndex;
            if (applied >= commitIndex)
            {
                return null;
            }

            return entries.At(applied + 1) ?? throw new InvalidOperationException($"Committed entry {applied + 1} is missing from the log.");
        }
    }

    /// <summary>Drops the entries a durable snapshot covers, and has the flusher delete their segments.</summary>
    private void CompactBehindSnapshot()
    {
        lock (sync)
        {
            // Applied and durable entries beyond the cache budget keep their payloads on disk only. A member that
            // replicates to no one (alone, no learner following) keeps almost none: nothing would read them from memory.
            entries.Evict(applier.AppliedIndex, Replicates is { } replicates && !replicates() ? Math.Min(cacheBytes, AloneCacheBytes) : cacheBytes);
        }

        var snapshot = machine.CompactionIndex;
        if (snapshot <= entries.BaseIndex)
        {
            return;
        }

        lock (sync)
        {
            if (snapshot <= entries.BaseIndex)
            {
                return;
            }

            entries.StartAfter(snapshot);
            flusher.DeleteThrough(snapshot);
        }

        flusher.Request();
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
            if (endIndex < 0 || endIndex > entries.LastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(endIndex), $"Cannot read up to {endIndex}: the log ends at {entries.LastIndex}.");
            }

            if (startIndex > endIndex)
            {
                return ([], null);
            }

            var baseIndex = entries.BaseIndex;
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
                    list[i - from + 1] = entries.At(i) ?? throw new InvalidOperationException($"Entry {i} after snapshot {snapshot.Index} is missing.");
                }

                return (list, snapshot.Index);
            }

            var result = new IRaftLogEntry[endIndex - startIndex + 1];
            for (var i = startIndex; i <= endIndex; i++)
            {
                result[i - startIndex] = entries.At(i) ?? throw new InvalidOperationException($"Entry {i} is behind the log's start and there is no snapshot covering it.");
            }

            return (result, null);
        }
    }

    public ValueTask<TResult> ReadAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> reader, long startIndex, long endIndex, CancellationToken token)
    {
        var (list, snapshotIndex) = Read(startIndex, endIndex);
        return reader.ReadAsync<IRaftLogEntry, IRaftLogEntry[]>(list, snapshotIndex, token);
    }

    private void Fail(Exception e)
    {
        LogFlusher.Generation a;
        LogFlusher.Generation? b;
        lock (sync)
        {
            failure ??= e;
            (a, b) = flusher.Detach();
        }

        var error = new IOException($"The Raft log stopped after an error and takes no more writes on this member: {failure.Message}", failure);
        a.Done.TrySetException(error);
        b?.Done.TrySetException(error);
        applier.FailWaiters(error);
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

        await applier.StopAsync().ConfigureAwait(false);
        if (flusher is not null)
        {
            await flusher.StopAsync().ConfigureAwait(false);
        }
    }
}

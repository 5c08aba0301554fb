using System.Buffers.Binary;
using System.Globalization;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// Opens a log in DotNext's format (the log of Conclave before ADR 0007) and, if it is damaged, keeps its longest
/// intact prefix. Used only to move such a log into <see cref="RaftLog"/> (<see cref="LogMigration"/>).
/// </summary>
/// <remarks>
/// What DotNext 6.12's <see cref="WriteAheadLog"/> does after a crash (kill -9 tested, and damage injected by hand):
/// <list type="bullet">
/// <item>Its end is the <c>checkpoint</c> file (commit index, last index), rewritten only after the entries
/// up to that index were flushed. Whatever a crash tore lies after the checkpoint and is ignored on open: a torn
/// tail after kill -9 does not throw, and nothing acknowledged is lost (every acknowledged entry was committed,
/// so flushed, so inside the checkpoint).</item>
/// <item>Damage inside the checkpointed range (bit rot, a truncated or deleted chunk or metadata page, a torn
/// checkpoint) is detected only because we enable <see cref="WriteAheadLog.IntegrityHashAlgorithm.XxHash64"/>:
/// open then throws <see cref="IntegrityException"/> (<c>HashMismatchException</c>, <c>MissingPageException</c>).
/// Without a hash the damaged bytes would be applied silently.</item>
/// </list>
/// On such a failure the log is copied aside for forensics, the largest intact prefix is found by re-opening
/// with a shorter checkpoint (a binary search: integrity holds for a prefix or fails), and the log is cut there.
/// Entries lost that way were committed; on a multi-member cluster the leader sends them again, on a single
/// member they are gone, and the log says so at Critical level.
/// </remarks>
internal static class WalRecovery
{
    private const string CheckpointFile = "checkpoint";
    private const int CheckpointSize = 20;
    private const int MetadataPageSize = 4096;
    private const int SmallestMetadataEntry = 32;

    public static async Task<ConclaveWriteAheadLog> OpenAsync(
        string directory, int chunkSize, MigrationStateMachine stateMachine, ILogger logger, CancellationToken cancellationToken)
    {
        chunkSize = ChunkSizeOnDisk(directory, chunkSize, logger);
        IntegrityException failure;
        var checkpoint = ReadCheckpoint(directory);
        if (checkpoint.Valid)
        {
            try
            {
                return await ConclaveWriteAheadLog.OpenAsync(directory, chunkSize, stateMachine, cancellationToken).ConfigureAwait(false);
            }
            catch (IntegrityException e)
            {
                failure = e;
            }
        }
        else
        {
            failure = new TornCheckpointException(directory);
        }

        var quarantine = $"{directory}.corrupt-{DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture)}";
        DurableFiles.CopyDirectory(directory, quarantine);

        var lower = stateMachine.SnapshotIndex;
        var upper = checkpoint.Valid ? checkpoint.LastIndex : UpperBoundFromMetadata(directory);
        var probe = new SnapshotOnlyStateMachine(stateMachine.Snapshot);
        while (lower < upper)
        {
            var middle = lower + ((upper - lower + 1) / 2);
            if (await IsIntactAsync(directory, chunkSize, probe, lower: stateMachine.SnapshotIndex, middle, cancellationToken).ConfigureAwait(false))
            {
                lower = middle;
            }
            else
            {
                upper = middle - 1;
            }
        }

        var commit = Math.Min(checkpoint.Valid ? checkpoint.CommitIndex : stateMachine.SnapshotIndex, lower);
        WriteCheckpoint(directory, Math.Max(commit, stateMachine.SnapshotIndex), lower);
        var cut = checkpoint.Valid ? checkpoint.LastIndex - lower : -1;
        var cutCommitted = checkpoint.Valid ? Math.Max(0, checkpoint.CommitIndex - lower) : -1;
        Log.WalCorrupt(logger, directory, failure.Message, quarantine, lower, cut, cutCommitted, failure);
        return await ConclaveWriteAheadLog.OpenAsync(directory, chunkSize, stateMachine, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The chunk size an existing log was written with, which it must be opened with: DotNext addresses entries by
    /// offset / chunk size, so a log opened with another size reads the wrong pages and looks damaged (and recovery
    /// would cut it). Every data page file is created at exactly the chunk size. A new log gets <paramref name="configured"/>.
    /// </summary>
    internal static int ChunkSizeOnDisk(string directory, int configured, ILogger logger)
    {
        var data = Path.Combine(directory, "data");
        if (!Directory.Exists(data))
        {
            return configured;
        }

        var onDisk = checked((int)new DirectoryInfo(data).EnumerateFiles()
            .Where(static f => uint.TryParse(f.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(static f => f.Length)
            .DefaultIfEmpty(0)
            .Max());
        if (onDisk == 0)
        {
            return configured; // no page written yet
        }

        if (onDisk != configured)
        {
            Log.WalChunkSizeKept(logger, directory, onDisk, configured);
        }

        return onDisk;
    }

    private static async Task<bool> IsIntactAsync(
        string directory, int chunkSize, IStateMachine probe, long lower, long lastIndex, CancellationToken cancellationToken)
    {
        // Commit index at the snapshot: the probe verifies the hashes up to lastIndex and applies nothing.
        WriteCheckpoint(directory, lower, lastIndex);
        try
        {
            var wal = await ConclaveWriteAheadLog.OpenAsync(directory, chunkSize, probe, cancellationToken).ConfigureAwait(false);
            await wal.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (IntegrityException)
        {
            return false;
        }
    }

    private static (bool Valid, long CommitIndex, long LastIndex) ReadCheckpoint(string directory)
    {
        var path = Path.Combine(directory, CheckpointFile);
        if (!File.Exists(path))
        {
            return (true, 0, 0);
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0)
        {
            return (true, 0, 0);
        }

        if (bytes.Length != CheckpointSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != 1)
        {
            return (false, 0, 0);
        }

        var commit = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(4));
        var last = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(12));
        return commit >= 0 && last >= commit ? (true, commit, last) : (false, 0, 0);
    }

    /// <summary>Writes DotNext 6.12's checkpoint, format version 1: <c>u32 1 | i64 commit | i64 last</c>.</summary>
    private static void WriteCheckpoint(string directory, long commitIndex, long lastIndex)
    {
        var bytes = new byte[CheckpointSize];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(4), commitIndex);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), lastIndex);
        using var stream = PrivateFiles.Open(Path.Combine(directory, CheckpointFile), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 4096);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>An index past the last entry any metadata page can hold: the search starts from there.</summary>
    private static long UpperBoundFromMetadata(string directory)
    {
        var metadata = Path.Combine(directory, "metadata");
        var pages = Directory.Exists(metadata)
            ? Directory.EnumerateFiles(metadata)
                .Select(static f => uint.TryParse(Path.GetFileName(f), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (long)n : -1)
                .DefaultIfEmpty(-1)
                .Max()
            : -1;
        return (pages + 1) * (MetadataPageSize / SmallestMetadataEntry);
    }

    /// <summary>Exposes the restored snapshot to a probing WAL and refuses to apply anything.</summary>
    private sealed class SnapshotOnlyStateMachine(ISnapshot? snapshot) : IStateMachine
    {
        public ISnapshot? Snapshot => snapshot;

        public ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token) =>
            ValueTask.FromException<long>(new InvalidOperationException("A WAL opened to probe its integrity must not apply entries."));

        public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token) => ValueTask.CompletedTask;
    }

    private sealed class TornCheckpointException(string directory)
        : IntegrityException($"The WAL checkpoint in {directory} is torn or unreadable.");
}

using Conclave.Api.Raft;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>
/// <see cref="RaftLog"/> as Raft drives it, checked against what its files hold: the directory is copied the moment
/// a call returns (what a kill -9 then would leave) and opened again.
/// </summary>
// IAsyncLifetime, not IAsyncDisposable: xunit 2 never called the latter on a test class, and every run left its
// directories under /tmp (254 of them on the dev machine).
public sealed class RaftLogTests : IAsyncLifetime
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "conclave-raftlog-tests", Guid.NewGuid().ToString("N"));
    private readonly ClusterMetrics metrics = new(static () => 0, static () => 0, static () => 0);
    private readonly List<IAsyncDisposable> opened = [];
    private int copies;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(opened))
        {
            await item.DisposeAsync();
        }

        metrics.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task<(RaftLog Log, RecordingStateMachine Machine)> OpenAsync(string directory, long cacheBytes = RaftNodeOptions.DefaultLogCacheBytes)
    {
        var machine = new RecordingStateMachine();
        var adapter = LonelyAdapter.Create(machine, Path.Combine(directory, "snap"), metrics);
        opened.Add(adapter);
        adapter.RestoreLatest();
        var log = await RaftLog.OpenAsync(Path.Combine(directory, "log"), 1024 * 1024, adapter, null, NullLogger.Instance, CancellationToken.None, cacheBytes);
        opened.Add(log);
        return (log, machine);
    }

    /// <summary>What the files hold right now, opened as a restart would.</summary>
    private async Task<(RaftLog Log, RecordingStateMachine Machine)> CrashCopyAsync(string directory)
    {
        var copy = Path.Combine(root, $"crash-{copies++}");
        DurableFiles.CopyDirectory(directory, copy);
        return await OpenAsync(copy);
    }

    private static BinaryLogEntry Put(string key, long term)
    {
        var batch = new CommandBatch { FormatVersion = 1 };
        batch.Commands.Add(RecordingStateMachine.Put(key));
        return new BinaryLogEntry { Content = batch.ToByteArray(), Term = term };
    }

    [Fact]
    public async Task Entries_a_leader_commits_are_on_disk_when_the_commit_returns_and_are_applied_after_a_restart()
    {
        var directory = Path.Combine(root, "leader");
        var (log, machine) = await OpenAsync(directory);
        for (var i = 1; i <= 30; i++)
        {
            Assert.Equal(i, await log.AppendAsync(Put($"k{i}", 1), CancellationToken.None));
            if (i % 3 == 0)
            {
                await log.CommitAsync(i, CancellationToken.None);
                var (copy, copied) = await CrashCopyAsync(directory);
                Assert.True(copy.LastEntryIndex >= i, $"committed {i}, the disk held {copy.LastEntryIndex}");
                // A restart applies what the files say was committed (the commit index is written with the next flush).
                Assert.True(copied.AppliedIndex >= i - 3, $"committed {i}, a restart applied {copied.AppliedIndex}");
            }
        }

        await log.WaitForApplyAsync(30, CancellationToken.None);
        Assert.Equal(30, machine.AppliedIndex);
        Assert.True(log.FramesWritten <= 31, $"{log.FramesWritten} flushes for 30 entries");
    }

    [Fact]
    public async Task Applied_entries_beyond_the_cache_leave_memory_and_read_back_from_disk_also_after_a_restart()
    {
        const int Count = 3000;
        const long Cache = 64 * 1024;
        var directory = Path.Combine(root, "cache");
        var (log, machine) = await OpenAsync(directory, Cache);
        var written = new Dictionary<long, byte[]>();
        for (var i = 1; i <= Count; i++)
        {
            var entry = Put($"k{i:D5}-{new string('v', 2000)}", 1);
            written[i] = entry.Content.ToArray();
            await log.AppendAsync(entry, CancellationToken.None);
            if (i % 50 == 0)
            {
                await log.CommitAsync(i, CancellationToken.None);
            }
        }

        await log.CommitAsync(Count, CancellationToken.None);
        await log.WaitForApplyAsync(Count, CancellationToken.None);
        Assert.Equal(Count, machine.AppliedIndex);

        // About 6 MB of payloads went through; at most the cache (and one entry past it) stays in memory.
        Assert.True(log.ResidentBytes <= Cache + 2100, $"{log.ResidentBytes} payload bytes resident with a {Cache}-byte cache");
        await AssertReadsBackAsync(log, written);

        // A restart replays the segments without holding the payloads: they are read when applied or asked for.
        await log.DisposeAsync();
        var (reopened, replayed) = await OpenAsync(directory, Cache);
        await reopened.WaitForApplyAsync(Count, CancellationToken.None);
        Assert.Equal(Count, replayed.AppliedIndex);
        Assert.Equal(machine.Keys, replayed.Keys);
        Assert.True(reopened.ResidentBytes <= Cache + 2100, $"{reopened.ResidentBytes} payload bytes resident after the restart");
        await AssertReadsBackAsync(reopened, written);
    }

    [Fact]
    public async Task A_log_that_replicates_to_no_one_keeps_almost_no_applied_payloads_and_the_cache_again_once_it_does()
    {
        const long Cache = 4 * 1024 * 1024;
        var directory = Path.Combine(root, "alone");
        var (log, machine) = await OpenAsync(directory, Cache);
        var replicates = false;
        log.Replicates = () => replicates;
        var written = new Dictionary<long, byte[]>();
        async Task WriteAsync(int from, int count)
        {
            for (var i = from; i < from + count; i++)
            {
                var entry = Put($"k{i:D5}-{new string('v', 2000)}", 1);
                written[i] = entry.Content.ToArray();
                await log.AppendAsync(entry, CancellationToken.None);
            }

            await log.CommitAsync(from + count - 1, CancellationToken.None);
            await log.WaitForApplyAsync(from + count - 1, CancellationToken.None);
        }

        // About 6 MB through a 4 MiB cache while nobody reads the log: at most the alone budget stays.
        await WriteAsync(1, 3000);
        Assert.Equal(3000, machine.AppliedIndex);
        Assert.True(log.ResidentBytes <= RaftLog.AloneCacheBytes + 2100, $"{log.ResidentBytes} payload bytes resident while replicating to no one");
        await AssertReadsBackAsync(log, written);

        // A member arrives: the cache fills again up to its size.
        replicates = true;
        await WriteAsync(3001, 3000);
        Assert.True(log.ResidentBytes > RaftLog.AloneCacheBytes * 2, $"{log.ResidentBytes} payload bytes resident once replicating");
        Assert.True(log.ResidentBytes <= Cache + 2100, $"{log.ResidentBytes} payload bytes resident with a {Cache}-byte cache");
        await AssertReadsBackAsync(log, written);
    }

    private static Task AssertReadsBackAsync(RaftLog log, Dictionary<long, byte[]> written)
    {
        var (entries, _) = log.Read(1, written.Count);
        Assert.Equal(written.Count, entries.Length);
        foreach (var entry in entries.Cast<StoredEntry>())
        {
            // As replication reads it (DotNext asks the entry for its bytes).
            Assert.True(((DotNext.IO.IDataTransferObject)entry).TryGetMemory(out var memory));
            Assert.Equal(written[entry.Index], memory.ToArray());
        }

        return Task.CompletedTask;
    }

    [Fact]
    public void A_segment_reader_refuses_reads_once_its_segment_left_the_log()
    {
        var path = Path.Combine(root, "segment.bin");
        Directory.CreateDirectory(root);
        File.WriteAllBytes(path, [.. Enumerable.Range(0, 256).Select(static i => (byte)i)]);
        var reader = new SegmentReader(path);
        Assert.Equal(new byte[] { 10, 11, 12 }, reader.Read(10, 3, 7));
        Assert.Throws<InvalidDataException>(() => reader.Read(250, 10, 7));
        reader.Dispose();
        reader.Dispose();
        Assert.Equal(7, Assert.Throws<LogEntryGoneException>(() => reader.Read(10, 3, 7)).Index);
    }

    /// <summary>
    /// DotNext 6.12's WAL answered AppendEntries after flushing only up to the leader's commit index, so entries past it
    /// were acknowledged from memory; when every member then died, the next leader could be elected without them and
    /// an acknowledged write was lost (CI, LeaderFaultTests). A follower must answer only once they are durable.
    /// </summary>
    [Fact]
    public async Task Entries_a_follower_acknowledges_beyond_the_commit_index_are_on_disk_when_the_append_returns()
    {
        var directory = Path.Combine(root, "follower");
        var next = 1L;
        for (var round = 0; round < 20; round++)
        {
            var (log, _) = await OpenAsync(directory);
            // As RaftCluster's follower path does: the leader's entries through the producer overload, with the
            // leader's commit index behind them.
            var entries = Enumerable.Range(0, 50).Select(i => Put($"r{round}-{i}", 1)).ToList();
            await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>(entries), next, skipCommitted: true, CancellationToken.None);
            var appended = next + entries.Count - 1;
            var (copy, _) = await CrashCopyAsync(directory);
            Assert.True(copy.LastEntryIndex >= appended, $"round {round}: the follower answered for entries up to {appended}, its disk held {copy.LastEntryIndex}");

            await log.DisposeAsync();
            next = appended + 1;
        }
    }

    [Fact]
    public async Task Term_and_vote_are_on_disk_before_the_call_returns()
    {
        var directory = Path.Combine(root, "vote");
        var (log, _) = await OpenAsync(directory);
        var me = new ClusterMemberId(Random.Shared);
        var other = new ClusterMemberId(Random.Shared);

        Assert.Equal(1, await log.IncrementTermAsync(me, CancellationToken.None));
        var (copy, _) = await CrashCopyAsync(directory);
        Assert.Equal(1, copy.Term);
        Assert.True(copy.IsVotedFor(me));
        Assert.False(copy.IsVotedFor(other));

        await log.UpdateTermAsync(7, resetLastVote: true, CancellationToken.None);
        (copy, _) = await CrashCopyAsync(directory);
        Assert.Equal(7, copy.Term);
        Assert.True(copy.IsVotedFor(other)); // no vote in term 7 yet

        await log.UpdateVotedForAsync(other, CancellationToken.None);
        (copy, _) = await CrashCopyAsync(directory);
        Assert.True(copy.IsVotedFor(other));
        Assert.False(copy.IsVotedFor(me));
    }

    [Fact]
    public async Task A_new_leaders_entries_replace_a_followers_uncommitted_tail_also_after_a_restart()
    {
        var directory = Path.Combine(root, "overwrite");
        var (log, _) = await OpenAsync(directory);
        await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>([.. Enumerable.Range(1, 10).Select(i => Put($"a{i}", 1))]), 1, skipCommitted: true, CancellationToken.None);
        await log.CommitAsync(5, CancellationToken.None);

        // A new leader (term 2) never had entries 7..10: it sends its own from 7.
        await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>([Put("b7", 2), Put("b8", 2)]), 7, skipCommitted: true, CancellationToken.None);
        Assert.Equal(8, log.LastEntryIndex);

        var (copy, _) = await CrashCopyAsync(directory);
        Assert.Equal(8, copy.LastEntryIndex);
        var (entries, _) = copy.Read(1, 8);
        Assert.Equal([1, 1, 1, 1, 1, 1, 2, 2], entries.Select(e => e.Term));

        // Committed entries cannot be replaced.
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>([Put("c5", 3)]), 5, skipCommitted: false, CancellationToken.None));
    }

    [Fact]
    public async Task A_resent_append_of_entries_the_follower_has_keeps_the_entries_after_them()
    {
        var directory = Path.Combine(root, "resend");
        var (log, _) = await OpenAsync(directory);
        var all = Enumerable.Range(1, 10).Select(i => Put($"a{i}", 1)).ToList();
        await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>(all), 1, skipCommitted: true, CancellationToken.None);

        // A delayed copy of an earlier AppendEntries (entries 4..6, same term): Raft truncates only on a conflict,
        // and this member may already have acknowledged 7..10.
        await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>(all.GetRange(3, 3)), 4, skipCommitted: true, CancellationToken.None);

        Assert.Equal(10, log.LastEntryIndex);
        var (copy, _) = await CrashCopyAsync(directory);
        Assert.Equal(10, copy.LastEntryIndex);
    }

    [Fact]
    public async Task Reads_before_the_newest_snapshot_start_with_the_snapshot()
    {
        var directory = Path.Combine(root, "reads");
        var (log, _) = await OpenAsync(directory);
        var (initial, none) = log.Read(0, 0);
        Assert.Null(none);
        Assert.Equal(0, Assert.Single(initial).Term);

        await log.AppendAsync(new LogEntryProducer<BinaryLogEntry>([.. Enumerable.Range(1, 5).Select(i => Put($"a{i}", 1))]), 1, skipCommitted: true, CancellationToken.None);
        var leader = new RecordingStateMachine();
        var leaderSnapshots = Path.Combine(root, "leader-snap");
        Directory.CreateDirectory(leaderSnapshots);
        leader.Apply(20, 2, ((BinaryLogEntry)Put("s", 2)).Content.Span);
        using var image = new SnapshotBuffer();
        leader.WriteSnapshot(image);
        await log.AppendAsync(SnapshotFile.Write(leaderSnapshots, 20, 2, image), 20, CancellationToken.None);
        await log.AppendAsync(Put("after", 2), 21, CancellationToken.None);

        var (entries, snapshotIndex) = log.Read(3, 21);
        Assert.Equal(20, snapshotIndex);
        Assert.Equal(2, entries.Length);
        Assert.True(entries[0].IsSnapshot);
        Assert.Equal(2, entries[0].Term);
        Assert.Equal(21, ((StoredEntry)entries[1]).Index);
        Assert.Equal(20, log.LastCommittedEntryIndex);
    }
}

namespace Conclave.Cluster.Tests;

public sealed class SnapshotTests : IAsyncLifetime
{
    private readonly TestMember member = new(static o => o with { SnapshotInterval = 40, MaxBatchCommands = 4 });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    [Fact]
    public async Task SnapshotTruncatesTheLogAndRestartRestoresSnapshotPlusTail()
    {
        var before = new RecordingStateMachine();
        long snapshotIndex;
        await using (var node = await member.StartAsync(before))
        {
            // Small batches so that there are many log entries.
            for (var round = 0; round < 50; round++)
            {
                await Task.WhenAll(Enumerable.Range(0, 8).Select(i => node.ProposeAsync(RecordingStateMachine.Put($"k{round}-{i}")).AsTask()));
            }

            await TestMember.WaitUntilAsync(() => node.SnapshotIndex >= 40, "a snapshot");
            snapshotIndex = node.SnapshotIndex;
            Assert.True(node.Status.AppliedIndex > snapshotIndex || node.Status.AppliedIndex == snapshotIndex);
        }

        var snapshots = Directory.GetFiles(Path.Combine(member.DataDirectory, "snap"), "*.snap");
        Assert.NotEmpty(snapshots);

        var after = new RecordingStateMachine();
        await using var restarted = await member.StartAsync(after);
        await restarted.ReadBarrierAsync();

        Assert.Equal(1, after.RestoreCount);
        Assert.Equal(before.Keys, after.Keys);
        Assert.True(restarted.SnapshotIndex >= snapshotIndex);
        // Only the tail after the snapshot was replayed.
        Assert.All(after.Entries, e => Assert.True(e.Index > restarted.SnapshotIndex - 40));
    }
}

public sealed class SnapshotPolicyTests : IAsyncLifetime
{
    private const int MinLogBytes = 64 * 1024;
    private readonly TestMember member = new(static o => o with { SnapshotInterval = 1_000_000, SnapshotLogBytes = MinLogBytes, MaxBatchCommands = 1 });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await member.DisposeAsync();

    /// <summary>
    /// Snapshots follow the log's bytes, not only its entry count: one after the configured minimum while the state
    /// is small, then only after half the last snapshot's size, so the in-memory log stays bounded by the state and
    /// the cost of rewriting the state is spread over as many new bytes.
    /// </summary>
    [Fact]
    public async Task SnapshotsAreTakenByLogBytesAndSpacedByHalfTheStateSize()
    {
        var machine = new RecordingStateMachine();
        var taken = new List<long>();
        await using (var node = await member.StartAsync(machine))
        {
            for (var i = 0; i < 700; i++)
            {
                // ~1 KB per entry; the recording machine keeps every key, so the state grows by ~1 KB per entry too.
                await node.ProposeAsync(RecordingStateMachine.Put($"{i:D6}" + new string('k', 1000)));
                if (node.SnapshotIndex > (taken.Count == 0 ? 0 : taken[^1]))
                {
                    taken.Add(node.SnapshotIndex);
                }
            }

            await TestMember.WaitUntilAsync(() => node.SnapshotIndex >= taken[^1], "the last snapshot");
        }

        Assert.True(taken.Count >= 3, $"snapshots at {string.Join(", ", taken)}");
        // The first comes after about MinLogBytes of log (64 entries of ~1 KB).
        Assert.InRange(taken[0], 50, 90);
        for (var i = 1; i < taken.Count; i++)
        {
            var previous = taken[i - 1];
            var gap = taken[i] - previous;
            var expected = Math.Max(64, previous / 2); // entries of ~1 KB: half the state of `previous` entries
            Assert.True(gap >= expected * 0.85 && gap <= expected * 1.5 + 10,
                $"snapshot at {taken[i]} came {gap} entries after the one at {previous}; expected about {expected} (all: {string.Join(", ", taken)})");
        }

        Assert.Empty(Directory.GetFiles(Path.Combine(member.DataDirectory, "snap"), "*.tmp"));
    }
}

public sealed class SnapshotFileWriterTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("conclave-snapfile-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AWrittenSnapshotIsFramedHashedAndReadBack()
    {
        var payload = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(payload);
        using (var writer = SnapshotFile.Create(directory, index: 42, term: 3))
        {
            writer.Write(payload.AsSpan(0, 1000));
            writer.Write(payload.AsSpan(1000));
            writer.Seal();
            var file = writer.Commit();
            Assert.Equal(42, file.Index);
            Assert.Equal(payload.Length, file.PayloadLength);
        }

        var path = Assert.Single(Directory.GetFiles(directory));
        var reopened = SnapshotFile.Open(path); // verifies magic, length and hash
        Assert.Equal((42L, 3L), (reopened.Index, reopened.Term));
        using var stream = reopened.OpenPayload();
        var read = new MemoryStream();
        stream.CopyTo(read);
        Assert.Equal(payload, read.ToArray());
    }

    [Fact]
    public void ALargeImageGoesToDiskAsItIsWrittenNotOnlyAtTheEnd()
    {
        // 40 MiB in 1 MiB writes: a write-back step after each 4 MiB, so at most two steps of it wait in the page cache
        // (the kernel alone would hold all of it until the final sync, which then stood ahead of the log's syncs).
        var block = new byte[1024 * 1024];
        new Random(3).NextBytes(block);
        using var writer = SnapshotFile.Create(directory, index: 7, term: 1);
        long? mostDirty = null;
        for (var i = 0; i < 40; i++)
        {
            writer.Write(block);
            Assert.Equal((i + 1) * block.LongLength / SnapshotFile.Writer.WriteBackStepBytes, writer.WriteBackSteps);
            if (PageCache.DirtyBytes(writer.FileHandle) is { } dirty)
            {
                mostDirty = Math.Max(mostDirty ?? 0, dirty);
            }
        }

        // Where the kernel can say (cachestat, Linux 6.5+): two steps and the 64 KiB write buffer at most, not 40 MiB.
        if (mostDirty is { } most)
        {
            Assert.True(most <= (2 * SnapshotFile.Writer.WriteBackStepBytes) + block.Length + (64 * 1024), $"{most} bytes of the image were dirty at once");
        }

        writer.Seal();
        var file = writer.Commit();
        Assert.Equal(40L * block.Length, file.PayloadLength);
        using var stream = SnapshotFile.Open(Assert.Single(Directory.GetFiles(directory))).OpenPayload(); // verifies the hash
        Assert.Equal(40L * block.Length, stream.Length);
    }

    [Fact]
    public void AnAbandonedSnapshotLeavesNoFile()
    {
        using (var writer = SnapshotFile.Create(directory, index: 5, term: 1))
        {
            writer.Write(new byte[100]);
        }

        Assert.Empty(Directory.GetFiles(directory));
    }
}

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

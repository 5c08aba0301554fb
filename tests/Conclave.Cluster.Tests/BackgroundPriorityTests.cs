using Conclave.Api.Raft;
using DotNext.Net.Cluster.Consensus.Raft;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Cluster.Tests;

/// <summary>A snapshot's writer thread runs at a lower CPU priority than the threads that answer clients; only it.</summary>
public sealed class BackgroundPriorityTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "conclave-priority-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Lowering_applies_to_the_calling_thread_only()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // thread priorities are set on Linux only
        }

        var before = BackgroundPriority.CurrentNice();
        int? lowered = null;
        var thread = new Thread(() =>
        {
            Assert.True(BackgroundPriority.LowerCurrentThread());
            lowered = BackgroundPriority.CurrentNice();
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));

        Assert.Equal(Math.Max(before, BackgroundPriority.Nice), lowered);
        Assert.Equal(before, BackgroundPriority.CurrentNice());
    }

    [Fact]
    public async Task A_snapshot_is_written_at_the_lower_priority_and_applies_are_not()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // thread priorities are set on Linux only
        }

        var machine = new WriterRecordingMachine();
        using var metrics = new ClusterMetrics(static () => 0, static () => 0, static () => 0);
        var adapter = LonelyAdapter.Create(machine, Path.Combine(root, "snap"), metrics, interval: 10);
        await using var _ = adapter;
        adapter.RestoreLatest();
        await using var log = await RaftLog.OpenAsync(Path.Combine(root, "log"), 1024 * 1024, adapter, null, NullLogger.Instance, CancellationToken.None);

        var batch = new CommandBatch { FormatVersion = 1 };
        batch.Commands.Add(RecordingStateMachine.Put("k"));
        for (var i = 1; i <= 15; i++)
        {
            await log.AppendAsync(new BinaryLogEntry { Content = batch.ToByteArray(), Term = 1 }, CancellationToken.None);
        }

        await log.CommitAsync(15, CancellationToken.None);
        var writerNice = await machine.Written.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Math.Max(BackgroundPriority.CurrentNice(), BackgroundPriority.Nice), writerNice);
        Assert.NotNull(machine.ApplyNice);
        Assert.True(machine.ApplyNice < BackgroundPriority.Nice, $"applies ran at nice {machine.ApplyNice}");
    }

    /// <summary>Records the nice value of the threads that apply and that write the snapshot image.</summary>
    private sealed class WriterRecordingMachine : IReplicatedStateMachine
    {
        private readonly RecordingStateMachine inner = new();

        public TaskCompletionSource<int> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int? ApplyNice { get; private set; }

        public long AppliedIndex => inner.AppliedIndex;

        public IReadOnlyList<object?> Apply(long index, long term, ReadOnlySpan<byte> payload)
        {
            ApplyNice = BackgroundPriority.CurrentNice();
            return inner.Apply(index, term, payload);
        }

        public void ValidateCommand(Command command) => inner.ValidateCommand(command);

        public void WriteSnapshot(Stream destination) => inner.WriteSnapshot(destination);

        public void RestoreSnapshot(Stream source) => inner.RestoreSnapshot(source);

        public ISnapshotImage CaptureSnapshot() => new Image(BufferedSnapshotImage.Write(inner), Written);

        private sealed class Image(ISnapshotImage inner, TaskCompletionSource<int> written) : ISnapshotImage
        {
            public long Length => inner.Length;

            public void WriteTo(Stream destination)
            {
                inner.WriteTo(destination);
                written.TrySetResult(BackgroundPriority.CurrentNice());
            }

            public void Dispose() => inner.Dispose();
        }
    }
}

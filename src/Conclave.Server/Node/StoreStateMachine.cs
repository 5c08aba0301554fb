using Conclave.Cluster;
using Conclave.Storage;

namespace Conclave.Server.Node;

/// <summary>Lets the replicated log drive the key-value store.</summary>
internal sealed class StoreStateMachine(KeyValueStore store) : IReplicatedStateMachine
{
    public long AppliedIndex => store.AppliedIndex;

    public IReadOnlyList<object?> Apply(long index, long term, ReadOnlySpan<byte> payload) => store.Apply(index, payload);

    public void ValidateCommand(Api.Raft.Command command) => CommandShape.Validate(command);

    public void WriteSnapshot(Stream destination) => store.WriteSnapshot(destination);

    public ISnapshotImage CaptureSnapshot() => new Image(store.CaptureSnapshot());

    public void RestoreSnapshot(Stream source) => store.RestoreSnapshot(source);

    /// <summary>The store's capture: frozen in one pass over the keys, written later while applies go on.</summary>
    private sealed class Image(KeyValueStore.SnapshotCapture capture) : ISnapshotImage
    {
        public long Length => capture.Length;

        public void WriteTo(Stream destination) => capture.WriteTo(destination);

        public void Dispose() => capture.Dispose();
    }
}

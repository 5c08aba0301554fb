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

    public void RestoreSnapshot(Stream source) => store.RestoreSnapshot(source);
}

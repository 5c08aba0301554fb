using Conclave.Api.Raft;
using Conclave.Storage;

namespace Conclave.Cluster.Tests;

/// <summary>
/// The key-value store driven by the log, as the server drives it, so that membership records (system keyspace) can be
/// written and read without the server. Commands are not validated: the tests write well-formed ones.
/// </summary>
internal sealed class StoreStateMachine(KeyValueStore store) : IReplicatedStateMachine
{
    public long AppliedIndex => store.AppliedIndex;

    public IReadOnlyList<object?> Apply(long index, long term, ReadOnlySpan<byte> payload) => store.Apply(index, payload);

    public void ValidateCommand(Command command)
    {
    }

    public void WriteSnapshot(Stream destination) => store.WriteSnapshot(destination);

    public void RestoreSnapshot(Stream source) => store.RestoreSnapshot(source);
}

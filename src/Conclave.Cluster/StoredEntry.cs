using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>One entry of <see cref="RaftLog"/>: immutable, its payload copied out of whatever it arrived in.</summary>
internal sealed class StoredEntry(long index, long term, byte[] payload, bool isConfiguration, int? commandId) : IRaftLogEntry
{
    /// <summary>The entry before the first one (index 0, term 0), as Raft's consistency check expects it.</summary>
    public static readonly StoredEntry Initial = new(0, 0, [], isConfiguration: false, commandId: null);

    public long Index { get; } = index;

    public long Term { get; } = term;

    public byte[] Payload { get; } = payload;

    public bool IsConfiguration { get; } = isConfiguration;

    public int? CommandId { get; } = commandId;

    long? IDataTransferObject.Length => Payload.Length;

    bool IDataTransferObject.IsReusable => true;

    bool IDataTransferObject.TryGetMemory(out ReadOnlyMemory<byte> memory)
    {
        memory = Payload;
        return true;
    }

    ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token) =>
        writer.Invoke(Payload, token);

    /// <summary>Copies <paramref name="entry"/>'s payload (it may live in a pooled buffer or a network stream).</summary>
    public static async ValueTask<StoredEntry> CopyAsync<TEntry>(TEntry entry, long index, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        byte[] payload;
        if (entry.TryGetMemory(out var memory))
        {
            payload = memory.IsEmpty ? [] : memory.ToArray();
        }
        else if (entry.Length == 0)
        {
            payload = [];
        }
        else
        {
            payload = await entry.ToByteArrayAsync(null, token).ConfigureAwait(false);
        }

        return new StoredEntry(index, entry.Term, payload, entry.IsConfiguration, entry.CommandId);
    }

    /// <summary>The same entry at another index (entries are copied before their index is known).</summary>
    public StoredEntry At(long newIndex) => newIndex == Index ? this : new StoredEntry(newIndex, Term, Payload, IsConfiguration, CommandId);
}

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

    /// <summary>
    /// Copies <paramref name="entry"/>'s payload out of what it arrived in (a pooled buffer, a network stream), before
    /// its index is known.
    /// </summary>
    public static async ValueTask<byte[]> CopyPayloadAsync<TEntry>(TEntry entry, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        if (entry.TryGetMemory(out var memory))
        {
            return memory.IsEmpty ? [] : memory.ToArray();
        }

        return entry.Length == 0 ? [] : await entry.ToByteArrayAsync(null, token).ConfigureAwait(false);
    }

    /// <summary><paramref name="entry"/> at <paramref name="index"/>, with its payload copied by <see cref="CopyPayloadAsync"/>.</summary>
    public static StoredEntry Of<TEntry>(TEntry entry, long index, byte[] payload)
        where TEntry : IRaftLogEntry =>
        new(index, entry.Term, payload, entry.IsConfiguration, entry.CommandId);
}

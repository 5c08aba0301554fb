using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>
/// One entry of <see cref="RaftLog"/>: immutable, its payload copied out of whatever it arrived in. Once the entry is
/// durable in a segment (<see cref="Locate"/>) and applied, the log may drop the payload from memory
/// (<see cref="Evict"/>); it is then read back from the segment whenever asked for (replication to a member that lags,
/// a learner's feed), so the log's memory stays bounded whatever the state's size (ADR 0017).
/// </summary>
internal sealed class StoredEntry : IRaftLogEntry
{
    /// <summary>The entry before the first one (index 0, term 0), as Raft's consistency check expects it.</summary>
    public static readonly StoredEntry Initial = new(0, 0, [], isConfiguration: false, commandId: null);

    private byte[]? payload;
    private SegmentReader? segment;
    private long payloadOffset;

    public StoredEntry(long index, long term, byte[] payload, bool isConfiguration, int? commandId)
    {
        Index = index;
        Term = term;
        this.payload = payload;
        PayloadLength = payload.Length;
        IsConfiguration = isConfiguration;
        CommandId = commandId;
    }

    /// <summary>An entry read back from a segment: its payload stays there until asked for.</summary>
    public StoredEntry(long index, long term, int payloadLength, bool isConfiguration, int? commandId, SegmentReader segment, long payloadOffset)
    {
        Index = index;
        Term = term;
        PayloadLength = payloadLength;
        IsConfiguration = isConfiguration;
        CommandId = commandId;
        this.segment = segment;
        this.payloadOffset = payloadOffset;
    }

    public long Index { get; }

    public long Term { get; }

    public int PayloadLength { get; }

    /// <summary>The payload: from memory, or read from its segment when it was evicted (a new array each time).</summary>
    /// <exception cref="LogEntryGoneException">Evicted, and its segment was deleted since (a snapshot covers it now).</exception>
    public byte[] Payload => Volatile.Read(ref payload) ?? (PayloadLength == 0 ? [] : segment!.Read(payloadOffset, PayloadLength, Index));

    /// <summary>Whether the payload is durable in a segment (it can be evicted and read back).</summary>
    public bool IsLocated => Volatile.Read(ref segment) is not null;

    /// <summary>Bytes of payload this entry holds in memory.</summary>
    public int ResidentBytes => Volatile.Read(ref payload)?.Length ?? 0;

    public bool IsConfiguration { get; }

    public int? CommandId { get; }

    /// <summary>Records where the payload is durable: from here on it may be evicted.</summary>
    public void Locate(SegmentReader reader, long offset)
    {
        payloadOffset = offset;
        Volatile.Write(ref segment, reader);
    }

    /// <summary>Drops the payload from memory if it is durable somewhere; returns the bytes freed.</summary>
    public int Evict()
    {
        if (Volatile.Read(ref segment) is null || Volatile.Read(ref payload) is not { } held)
        {
            return 0;
        }

        Volatile.Write(ref payload, null);
        return held.Length;
    }

    long? IDataTransferObject.Length => PayloadLength;

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

/// <summary>An evicted entry's payload was asked for after its segment was deleted: a snapshot covers the entry now.</summary>
internal sealed class LogEntryGoneException(long index)
    : Exception($"Log entry {index} is no longer in the log: a snapshot covers it now.")
{
    public long Index { get; } = index;
}

/// <summary>
/// Reads payloads of one segment file for entries evicted from memory. The log holds one reference to it while the
/// segment is part of the log; each read holds another while it reads, so the file is closed only when the segment
/// has left the log and no read is under way (a read that starts after that fails with <see cref="LogEntryGoneException"/>).
/// </summary>
internal sealed class SegmentReader : IDisposable
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle handle;
    private int references = 1;
    private int disposed;

    public SegmentReader(string path)
    {
        handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    public byte[] Read(long offset, int length, long index)
    {
        if (!TryAcquire())
        {
            throw new LogEntryGoneException(index);
        }

        try
        {
            var bytes = new byte[length];
            var read = 0;
            while (read < length)
            {
                var n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
                if (n == 0)
                {
                    throw new InvalidDataException($"Log entry {index}: its segment ends {length - read} bytes before the payload does.");
                }

                read += n;
            }

            return bytes;
        }
        finally
        {
            Release();
        }
    }

    /// <summary>The segment left the log: its file closes once the reads under way end.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }
    }

    private bool TryAcquire()
    {
        while (true)
        {
            var seen = Volatile.Read(ref references);
            if (seen == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref references, seen + 1, seen) == seen)
            {
                return true;
            }
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref references) == 0)
        {
            handle.Dispose();
        }
    }
}

using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// A shared chunk (64 KiB to 1 MiB) that many restored values are packed into. Bytes once written are never changed, so
/// a version (or a <see cref="Google.Protobuf.ByteString"/> a read returned) that still points into a chunk the arena
/// has given up reads what it always read: the chunk is an ordinary array, kept alive by whoever still refers to it
/// (ADR 0017).
/// </summary>
public sealed class ValueChunk
{
    internal ValueChunk(byte[] bytes) => Bytes = bytes;

    internal byte[] Bytes { get; }

    /// <summary>Bytes written so far (the apply thread only).</summary>
    internal int Used { get; set; }

    /// <summary>Bytes of it that retained versions refer to (a version that kept its predecessor's value counts again).</summary>
    internal long Live { get; set; }

    /// <summary>Its live values are being moved out by <see cref="ValueArena.Reclaim"/>.</summary>
    internal bool Moving { get; set; }

    /// <summary>Where it is in the arena's list while the arena accounts for it; -1 once given up.</summary>
    internal int Slot { get; set; } = -1;
}

/// <summary>
/// A value as a keyspace keeps it: <see cref="Length"/> bytes at <see cref="Offset"/> in <see cref="Storage"/>, which is
/// either an array of the value's own (a put's, a large value's, the empty one: offset 0, the whole array) or a
/// <see cref="ValueChunk"/>. No object besides the array: a million puts make no million wrappers.
/// </summary>
public readonly record struct StoredValue(object Storage, int Offset, int Length)
{
    public static StoredValue Empty => new(Array.Empty<byte>(), 0, 0);

    /// <summary>A value kept in an array of its own (the caller must not change it afterwards).</summary>
    public static StoredValue Own(byte[] value) => new(value, 0, value.Length);

    /// <summary>
    /// The array to keep for <paramref name="bytes"/>: its own array when it wraps a whole one (a parsed command's key or
    /// value is a fresh array of exactly its size, never changed), otherwise a copy.
    /// </summary>
    internal static byte[] OwnArrayOf(ByteString bytes) =>
        MemoryMarshal.TryGetArray(bytes.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToByteArray();

    /// <summary>Bits of <see cref="Location"/> that hold the length of a value in a chunk (the rest hold its offset).</summary>
    private const int LengthBits = 12;

    /// <summary>
    /// <see cref="Offset"/> and <see cref="Length"/> in one int, for a record that keeps them beside <see cref="Storage"/>
    /// (<see cref="KeyVersion"/>, <see cref="HistoryRow"/>: 8 bytes less each): a chunk's offset in the high 20 bits, the
    /// length in the low 12 (<see cref="ValueArena"/> keeps chunks of at most 1 MiB and values of at most 4095 bytes in
    /// them); 0 for an array of its own, whose length is the array's.
    /// </summary>
    internal int Location => Storage is ValueChunk ? (int)(((uint)Offset << LengthBits) | (uint)Length) : 0;

    /// <summary>The value at <paramref name="location"/> (see <see cref="Location"/>) in <paramref name="storage"/>.</summary>
    internal static StoredValue At(object storage, int location) => storage is byte[] own
        ? new StoredValue(own, 0, own.Length)
        : new StoredValue(storage, (int)((uint)location >> LengthBits), location & ValueArena.MaxChunkedLength);

    /// <summary>The length of the value at <paramref name="location"/> in <paramref name="storage"/>, without making it.</summary>
    internal static int LengthAt(object storage, int location) => storage is byte[] own ? own.Length : location & ValueArena.MaxChunkedLength;

    public ReadOnlySpan<byte> Span => (Storage as byte[] ?? ((ValueChunk)Storage).Bytes).AsSpan(Offset, Length);

    public ReadOnlyMemory<byte> Memory => (Storage as byte[] ?? ((ValueChunk)Storage).Bytes).AsMemory(Offset, Length);
}

/// <summary>
/// Where a keyspace keeps its keys and values (ADR 0017): packed into chunks instead of an array each, by puts and by
/// restores alike. A million keys with values of 1 KiB are a thousand large arrays the collector neither scans nor
/// copies, instead of two million small ones it promoted twice each: a restore takes half the time, and the arrays'
/// headers (48 bytes a key) are gone. A put's parsed arrays die young once copied here.
/// Space is accounted per chunk: compaction releases the keys and values it drops; a chunk nothing retained refers to is given
/// up; and when given-up space passes a quarter of the chunks, <see cref="Reclaim"/> moves the live bytes out of chunks
/// less than half live (during a compaction, which already excludes readers of histories and snapshot writers).
/// Not thread-safe: the apply thread (or the restore that builds it) stores and releases, as it writes histories.
/// </summary>
public sealed class ValueArena
{
    /// <summary>
    /// The size of a shared chunk once the arena holds a megabyte (the first are smaller, see <see cref="NextChunkBytes"/>).
    /// At most 1 MiB: <see cref="StoredValue.Location"/> keeps offsets in 20 bits.
    /// </summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>The size of the first chunks: a small keyspace (the system keyspace, a fresh member) stays small.</summary>
    public const int FirstChunkBytes = 64 * 1024;

    /// <summary>
    /// Values (and keys) longer than this get an array of their own instead of a place in a chunk: its 24-byte header is
    /// under 0.6% of them, and a chunked value's length fits the 12 bits <see cref="StoredValue.Location"/> gives it.
    /// </summary>
    public const int OwnArrayAbove = MaxChunkedLength;

    /// <summary>The longest value a chunk holds (see <see cref="StoredValue.Location"/>).</summary>
    internal const int MaxChunkedLength = (1 << 12) - 1;

    private readonly List<ValueChunk> chunks = [];
    private ValueChunk? current;

    /// <summary>Bytes in shared chunks the arena holds.</summary>
    public long ChunkedBytes { get; private set; }

    /// <summary>Bytes of those that retained versions refer to.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>Bytes a reclaim pass has moved since the arena was made (for tests and metrics).</summary>
    public long MovedBytes { get; private set; }

    /// <summary>Copies <paramref name="value"/> into the arena.</summary>
    public StoredValue Store(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return StoredValue.Empty;
        }

        var span = Reserve(value.Length, out var stored);
        value.CopyTo(span);
        return stored;
    }

    /// <summary>
    /// Copies <paramref name="value"/> into the arena after <paramref name="lease"/>'s 8 bytes when it is not 0: how a
    /// <see cref="KeyVersion"/> with that lease keeps its value.
    /// </summary>
    public StoredValue Store(ReadOnlySpan<byte> value, long lease)
    {
        if (lease == 0)
        {
            return Store(value);
        }

        value.CopyTo(Reserve(value.Length, lease, out var stored));
        return stored;
    }

    /// <summary>
    /// Room for a value of <paramref name="length"/> bytes after <paramref name="lease"/>'s (when it is not 0), to be
    /// filled by the caller before the version is published (a snapshot restore reads values straight into it).
    /// </summary>
    public Span<byte> Reserve(int length, long lease, out StoredValue stored)
    {
        if (lease == 0)
        {
            return Reserve(length, out stored);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return KeyVersion.WriteLease(Reserve(KeyVersion.LeaseBytes + length, out stored), lease);
    }

    /// <summary>
    /// Room for a value of <paramref name="length"/> bytes, to be filled by the caller before the version is published
    /// (a snapshot restore reads values straight into it).
    /// </summary>
    public Span<byte> Reserve(int length, out StoredValue stored)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0)
        {
            stored = StoredValue.Empty;
            return [];
        }

        if (length > OwnArrayAbove)
        {
            var own = GC.AllocateUninitializedArray<byte>(length);
            stored = StoredValue.Own(own);
            return own;
        }

        if (current is null || current.Bytes.Length - current.Used < length)
        {
            var previous = current;
            var size = NextChunkBytes;
            current = new ValueChunk(GC.AllocateUninitializedArray<byte>(size)) { Slot = chunks.Count };
            chunks.Add(current);
            ChunkedBytes += size;
            if (previous is { Live: 0 })
            {
                GiveUp(previous);
            }
        }

        var chunk = current;
        var offset = chunk.Used;
        chunk.Used += length;
        chunk.Live += length;
        LiveBytes += length;
        stored = new StoredValue(chunk, offset, length);
        return chunk.Bytes.AsSpan(offset, length);
    }

    /// <summary>
    /// Chunks double from <see cref="FirstChunkBytes"/> with the arena (each as large as all before it) up to
    /// <see cref="ChunkBytes"/>; every value up to <see cref="OwnArrayAbove"/> fits even the first.
    /// </summary>
    private int NextChunkBytes => (int)Math.Clamp(ChunkedBytes, FirstChunkBytes, ChunkBytes);

    /// <summary>Another version refers to <paramref name="value"/> too (a put that keeps the key's value).</summary>
    internal void Share(in StoredValue value)
    {
        if (value.Storage is ValueChunk { Slot: >= 0 } chunk)
        {
            chunk.Live += value.Length;
            LiveBytes += value.Length;
        }
    }

    /// <summary>A retained version referring to <paramref name="value"/> was dropped.</summary>
    internal void Release(in StoredValue value)
    {
        if (value.Storage is not ValueChunk { Slot: >= 0 } chunk)
        {
            return;
        }

        chunk.Live -= value.Length;
        LiveBytes -= value.Length;
        if (chunk.Live <= 0 && chunk != current)
        {
            GiveUp(chunk);
        }
    }

    /// <summary>
    /// Bytes in shared chunks no retained version refers to, besides the newest chunk's unwritten end (versions that
    /// share a value make this an underestimate, never an overestimate).
    /// </summary>
    public long GarbageBytes => Math.Max(0, ChunkedBytes - LiveBytes - (current is null ? 0 : current.Bytes.Length - current.Used));

    /// <summary>
    /// Whether a <see cref="Reclaim"/> pass is worth its cost now: given-up space is a quarter of the chunks and at least
    /// two first chunks' worth. (A pass rides on a compaction, which walks every key anyway.)
    /// </summary>
    public bool WantsReclaim => GarbageBytes >= Math.Max(2L * FirstChunkBytes, ChunkedBytes / 4);

    /// <summary>
    /// Moves the live values out of chunks less than half used by retained versions: <paramref name="visitAll"/> must
    /// call the callback it is given for every history that may refer to them (each history's versions are rewritten in
    /// place, so the caller excludes readers of histories and snapshot writers, as a compaction does). The emptied chunks
    /// are given up; readers that still hold their bytes keep them alive.
    /// </summary>
    internal void Reclaim(Action<Action<KeyHistory>> visitAll)
    {
        var moving = new List<ValueChunk>();
        foreach (var chunk in chunks)
        {
            if (chunk != current && chunk.Live < chunk.Bytes.Length / 2)
            {
                chunk.Moving = true;
                moving.Add(chunk);
            }
        }

        if (moving.Count == 0)
        {
            return;
        }

        visitAll(history => history.MoveValues(this));
        foreach (var chunk in moving)
        {
            chunk.Moving = false;
            if (chunk.Slot >= 0 && chunk.Live <= 0)
            {
                GiveUp(chunk);
            }
        }
    }

    /// <summary>Whether <paramref name="value"/> is in a chunk being emptied.</summary>
    internal static bool MustMove(in StoredValue value) => value.Storage is ValueChunk { Moving: true };

    /// <summary>Copies <paramref name="value"/> to the newest chunk and releases the old place.</summary>
    internal StoredValue Move(in StoredValue value)
    {
        var moved = Store(value.Span);
        MovedBytes += value.Length;
        Release(value);
        return moved;
    }

    private void GiveUp(ValueChunk chunk)
    {
        // Swap with the last so that giving up is O(1); the array stays alive while anything refers to it.
        var last = chunks[^1];
        chunks[chunk.Slot] = last;
        last.Slot = chunk.Slot;
        chunks.RemoveAt(chunks.Count - 1);
        chunk.Slot = -1;
        ChunkedBytes -= chunk.Bytes.Length;
        LiveBytes -= Math.Max(0, chunk.Live);
        chunk.Live = 0;
    }
}

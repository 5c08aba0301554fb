using System.Buffers.Binary;
using Conclave.Storage.Mvcc;

namespace Conclave.Storage;

/// <summary>
/// Reads the fields of a snapshot image, which is untrusted input (it also arrives from the leader as
/// InstallSnapshot): every count and length is checked against the bytes that remain before anything is allocated
/// for it, and every defect is an <see cref="InvalidDataException"/> naming the field and its offset.
/// </summary>
/// <remarks>
/// When the stream can tell its length, a length field larger than what remains is refused outright. When it cannot
/// (a stream from the network), a large byte string is read in chunks and its buffer grows only as bytes arrive, so
/// a lying length costs at most twice the bytes actually sent.
/// </remarks>
internal sealed class SnapshotReader
{
    private const int ChunkBytes = 64 * 1024;
    private readonly Stream source;
    private readonly long? length;
    private readonly byte[] scratch = new byte[8];
    private long position;

    public SnapshotReader(Stream source)
    {
        length = RemainingIn(source);

        // Millions of small fields: read from a 256 KiB buffer, not with one call to the source each. The buffer may
        // read past the image's end in the source; an image is always the rest of its stream.
        this.source = new BufferedStream(new NonClosingStream(source), 256 * 1024);
    }

    /// <summary>Bytes left in the image, when the stream can tell.</summary>
    public long? Remaining => length - position;

    public byte ReadByte() => Read(1)[0];

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Read(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Read(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Read(8));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Read(8));

    /// <summary>Reads exactly <paramref name="destination"/>'s length of bytes.</summary>
    public void ReadExactly(Span<byte> destination)
    {
        var read = source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        position += read;
        if (read < destination.Length)
        {
            throw new InvalidDataException($"snapshot is truncated: it ends at offset {position}, {destination.Length - read} byte(s) short of the field being read");
        }
    }

    /// <summary>
    /// A count of records that take at least <paramref name="minimumRecordBytes"/> each: negative counts, and counts
    /// the remaining bytes cannot hold, are refused.
    /// </summary>
    public int ReadCount(string what, int minimumRecordBytes)
    {
        var offset = position;
        var count = ReadInt32();
        if (count < 0)
        {
            throw new InvalidDataException($"snapshot {what} count at offset {offset} is negative ({count})");
        }

        if (Remaining is { } remaining && (long)count * minimumRecordBytes > remaining)
        {
            throw new InvalidDataException($"snapshot {what} count at offset {offset} is {count}, which needs at least {(long)count * minimumRecordBytes} bytes; {remaining} remain");
        }

        return count;
    }

    /// <summary>
    /// How many records to make room for up front: the count itself once the remaining bytes have vouched for it,
    /// otherwise no more than a small number (the collection grows with what actually arrives).
    /// </summary>
    public int Capacity(int count) => Remaining is null ? Math.Min(count, 1024) : count;

    /// <summary>A byte string: a 7-bit encoded length, then the bytes.</summary>
    public byte[] ReadBytes(string what)
    {
        var offset = position;
        var count = Read7BitEncodedLength(what, offset);
        if (Remaining is { } remaining && count > remaining)
        {
            throw new InvalidDataException($"snapshot {what} length at offset {offset} is {count} bytes; {remaining} remain");
        }

        return ReadBytesAfterLength(count);
    }

    private byte[] ReadBytesAfterLength(int count)
    {
        if (count <= ChunkBytes || Remaining is not null)
        {
            var bytes = new byte[count];
            ReadExactly(bytes);
            return bytes;
        }

        // The stream cannot say how much follows: grow with what actually arrives.
        var buffer = new byte[ChunkBytes];
        var filled = 0;
        while (filled < count)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(count, (long)buffer.Length * 2));
            }

            var chunk = Math.Min(buffer.Length - filled, ChunkBytes);
            ReadExactly(buffer.AsSpan(filled, chunk));
            filled += chunk;
        }

        return buffer;
    }

    /// <summary>
    /// A byte string read straight into <paramref name="arena"/> (no array of its own unless it is large). A length up to
    /// <see cref="ValueArena.OwnArrayAbove"/> reserves at most that much before its bytes arrive; a longer one is read
    /// as <see cref="ReadBytes"/> reads it, growing with what arrives when the stream cannot tell its length.
    /// </summary>
    /// <remarks>With a <paramref name="lease"/> other than 0, the value is kept after it, as a version with that lease keeps it.</remarks>
    public StoredValue ReadValue(string what, ValueArena arena, long lease = 0)
    {
        var offset = position;
        var count = Read7BitEncodedLength(what, offset);
        if (Remaining is { } remaining && count > remaining)
        {
            throw new InvalidDataException($"snapshot {what} length at offset {offset} is {count} bytes; {remaining} remain");
        }

        if (count > ValueArena.OwnArrayAbove && Remaining is null)
        {
            var large = ReadBytesAfterLength(count);
            return lease == 0 ? StoredValue.Own(large) : arena.Store(large, lease);
        }

        ReadExactly(arena.Reserve(count, lease, out var stored));
        return stored;
    }

    /// <summary>The current offset, for messages.</summary>
    public long Position => position;

    private ReadOnlySpan<byte> Read(int count)
    {
        var span = scratch.AsSpan(0, count);
        ReadExactly(span);
        return span;
    }

    private int Read7BitEncodedLength(string what, long offset)
    {
        // At most five bytes; the fifth may carry only the top four bits of a non-negative int.
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            var b = ReadByte();
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (shift == 28 && b > 0x07)
                {
                    break;
                }

                return (int)value;
            }
        }

        throw new InvalidDataException($"snapshot {what} length at offset {offset} is not a valid 7-bit encoded length (0 to {int.MaxValue})");
    }

    private static long? RemainingIn(Stream source)
    {
        try
        {
            return Math.Max(0, source.Length - source.Position);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }
}

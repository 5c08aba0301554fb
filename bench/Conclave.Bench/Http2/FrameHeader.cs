using System.Buffers.Binary;

namespace Conclave.Bench.Http2;

/// <summary>The 9-byte header every HTTP/2 frame starts with (RFC 9113 §4.1).</summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    public bool Has(byte flag) => (Flags & flag) != 0;

    /// <summary>Reads a header from the first <see cref="Size"/> bytes; the reserved bit of the stream id is ignored.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source) => new(
        (source[0] << 16) | (source[1] << 8) | source[2],
        (FrameType)source[3],
        source[4],
        (int)(BinaryPrimitives.ReadUInt32BigEndian(source[5..]) & 0x7fff_ffff));

    public static void Write(Span<byte> destination, int length, FrameType type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = (byte)type;
        destination[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)streamId & 0x7fff_ffff);
    }
}

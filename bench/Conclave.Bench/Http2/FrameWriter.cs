using System.Buffers.Binary;

namespace Conclave.Bench.Http2;

/// <summary>Writes the small control frames a client sends; each method returns the number of bytes written.</summary>
internal static class FrameWriter
{
    /// <summary>The client connection preface (RFC 9113 §3.4).</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public const int WindowUpdateSize = FrameHeader.Size + 4;
    public const int RstStreamSize = FrameHeader.Size + 4;
    public const int PingSize = FrameHeader.Size + 8;
    public const int GoAwaySize = FrameHeader.Size + 8;
    public const int SettingsAckSize = FrameHeader.Size;

    public static int Settings(Span<byte> destination, ReadOnlySpan<(ushort Id, uint Value)> settings)
    {
        FrameHeader.Write(destination, settings.Length * 6, FrameType.Settings, 0, 0);
        var at = FrameHeader.Size;
        foreach (var (id, value) in settings)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[at..], id);
            BinaryPrimitives.WriteUInt32BigEndian(destination[(at + 2)..], value);
            at += 6;
        }

        return at;
    }

    public static int SettingsAck(Span<byte> destination)
    {
        FrameHeader.Write(destination, 0, FrameType.Settings, FrameFlags.Ack, 0);
        return SettingsAckSize;
    }

    public static int WindowUpdate(Span<byte> destination, int streamId, int increment)
    {
        FrameHeader.Write(destination, 4, FrameType.WindowUpdate, 0, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)increment & 0x7fff_ffff);
        return WindowUpdateSize;
    }

    public static int PingAck(Span<byte> destination, ReadOnlySpan<byte> opaque)
    {
        FrameHeader.Write(destination, 8, FrameType.Ping, FrameFlags.Ack, 0);
        opaque[..8].CopyTo(destination[FrameHeader.Size..]);
        return PingSize;
    }

    public static int RstStream(Span<byte> destination, int streamId, Http2ErrorCode code)
    {
        FrameHeader.Write(destination, 4, FrameType.RstStream, 0, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)code);
        return RstStreamSize;
    }

    public static int GoAway(Span<byte> destination, int lastStreamId, Http2ErrorCode code)
    {
        FrameHeader.Write(destination, 8, FrameType.GoAway, 0, 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameHeader.Size..], (uint)lastStreamId & 0x7fff_ffff);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(FrameHeader.Size + 4)..], (uint)code);
        return GoAwaySize;
    }
}

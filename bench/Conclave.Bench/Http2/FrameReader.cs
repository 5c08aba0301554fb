using System.Buffers.Binary;

namespace Conclave.Bench.Http2;

/// <summary>
/// Cuts whole frames out of received bytes and takes their payloads apart (padding, priority). Pure functions over
/// spans, so the connection's reader loop and the tests share them.
/// </summary>
internal static class FrameReader
{
    /// <summary>
    /// Reads the frame at the start of <paramref name="buffer"/> if all of it has arrived. Returns false (and
    /// <paramref name="header"/> only when 9 bytes are there) when more bytes are needed.
    /// </summary>
    /// <exception cref="Http2ProtocolException">FRAME_SIZE_ERROR: the frame is longer than <paramref name="maxFrameSize"/>.</exception>
    public static bool TryRead(ReadOnlySpan<byte> buffer, int maxFrameSize, out FrameHeader header)
    {
        if (buffer.Length < FrameHeader.Size)
        {
            header = default;
            return false;
        }

        header = FrameHeader.Read(buffer);
        if (header.Length > maxFrameSize)
        {
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"{header.Type} frame of {header.Length} bytes exceeds SETTINGS_MAX_FRAME_SIZE {maxFrameSize}.");
        }

        return buffer.Length >= FrameHeader.Size + header.Length;
    }

    /// <summary>The data of a DATA frame without its padding (RFC 9113 §6.1), as (offset, length) within the payload.</summary>
    public static (int Offset, int Length) DataContent(in FrameHeader header, ReadOnlySpan<byte> payload) =>
        Unpad(header, payload, priorityBytes: 0);

    /// <summary>The header block fragment of a HEADERS frame without padding and priority fields (RFC 9113 §6.2).</summary>
    public static (int Offset, int Length) HeaderBlockFragment(in FrameHeader header, ReadOnlySpan<byte> payload) =>
        Unpad(header, payload, header.Has(FrameFlags.Priority) ? 5 : 0);

    /// <summary>Calls <paramref name="apply"/> for each (identifier, value) of a SETTINGS payload (RFC 9113 §6.5.1).</summary>
    public static void ForEachSetting<TState>(ReadOnlySpan<byte> payload, TState state, Action<TState, ushort, uint> apply)
    {
        if (payload.Length % 6 != 0)
        {
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"SETTINGS payload of {payload.Length} bytes is not a multiple of 6.");
        }

        for (var i = 0; i < payload.Length; i += 6)
        {
            apply(state, BinaryPrimitives.ReadUInt16BigEndian(payload[i..]), BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]));
        }
    }

    private static (int Offset, int Length) Unpad(in FrameHeader header, ReadOnlySpan<byte> payload, int priorityBytes)
    {
        var offset = 0;
        var padding = 0;
        if (header.Has(FrameFlags.Padded) && header.Type is FrameType.Data or FrameType.Headers)
        {
            if (payload.Length < 1)
            {
                throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"Padded {header.Type} frame without a pad length.");
            }

            padding = payload[0];
            offset = 1;
        }

        offset += priorityBytes;
        var length = payload.Length - offset - padding;
        if (length < 0)
        {
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"{header.Type} frame padding ({padding}) exceeds its payload ({payload.Length} bytes).");
        }

        return (offset, length);
    }
}

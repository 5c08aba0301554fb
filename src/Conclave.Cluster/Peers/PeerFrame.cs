using System.Buffers;
using System.Buffers.Binary;

namespace Conclave.Cluster.Peers;

/// <summary>
/// One frame of the peer listener's request channel (<see cref="PeerChannel.Requests"/>, ADR 0013). A 16-byte header,
/// little endian, then <see cref="Length"/> payload bytes:
/// <c>version u8 (1) | type u8 | kind u16 | length u32 | request id u64</c>.
/// Requests and their answers share the id, so many requests are in flight on one connection and answers come back
/// in any order.
/// </summary>
internal readonly record struct PeerFrame(PeerFrameType Type, PeerRequestKind Kind, int Length, ulong Id)
{
    public const int HeaderSize = 16;

    /// <summary>Version of the frame format this build speaks; a frame with another is a protocol error.</summary>
    public const byte Version = 1;

    public void WriteHeader(Span<byte> destination)
    {
        destination[0] = Version;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)Kind);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)Length);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Id);
    }

    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/>. <see cref="PeerFrameRead.Complete"/>: the header is in
    /// <paramref name="frame"/>, the payload in <paramref name="payload"/>, and <paramref name="buffer"/> starts after the
    /// frame. <see cref="PeerFrameRead.NeedMore"/>: nothing consumed. <see cref="PeerFrameRead.Invalid"/>: the bytes are not
    /// a frame this build accepts (<paramref name="error"/> says why); the connection must be closed. The length is
    /// checked against <paramref name="maxPayload"/> from the header alone, so a hostile length never makes the reader
    /// buffer more than that.
    /// </summary>
    public static PeerFrameRead TryRead(
        ref ReadOnlySequence<byte> buffer, int maxPayload, out PeerFrame frame, out ReadOnlySequence<byte> payload, out string? error)
    {
        frame = default;
        payload = default;
        error = null;
        if (buffer.Length < HeaderSize)
        {
            return PeerFrameRead.NeedMore;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        if (header[0] != Version)
        {
            error = $"frame version {header[0]}, this member speaks {Version}";
            return PeerFrameRead.Invalid;
        }

        var type = (PeerFrameType)header[1];
        if (type is < PeerFrameType.Request or > PeerFrameType.Pong)
        {
            error = $"unknown frame type {header[1]}";
            return PeerFrameRead.Invalid;
        }

        var kind = (PeerRequestKind)BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (length > (uint)maxPayload)
        {
            error = $"a frame of {length} bytes; at most {maxPayload} are accepted";
            return PeerFrameRead.Invalid;
        }

        if (type != PeerFrameType.Request && kind != 0)
        {
            error = $"a {type} frame names request kind {(ushort)kind}";
            return PeerFrameRead.Invalid;
        }

        if (type is PeerFrameType.Cancel or PeerFrameType.Ping or PeerFrameType.Pong && length != 0)
        {
            error = $"a {type} frame carries {length} bytes";
            return PeerFrameRead.Invalid;
        }

        if (buffer.Length < HeaderSize + length)
        {
            return PeerFrameRead.NeedMore;
        }

        frame = new PeerFrame(type, kind, (int)length, BinaryPrimitives.ReadUInt64LittleEndian(header[8..]));
        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(HeaderSize + length);
        return PeerFrameRead.Complete;
    }
}

/// <summary>What <see cref="PeerFrame.TryRead"/> found.</summary>
internal enum PeerFrameRead
{
    NeedMore,
    Complete,
    Invalid,
}

/// <summary>The frame types of the request channel.</summary>
internal enum PeerFrameType : byte
{
    /// <summary>A request (its kind in the header); answered by <see cref="Answer"/> or <see cref="Error"/> with its id.</summary>
    Request = 1,

    /// <summary>The request with this id succeeded; the payload is its answer.</summary>
    Answer = 2,

    /// <summary>The request with this id failed; the payload is a <see cref="PeerRequestError"/> (what it means for the caller).</summary>
    Error = 3,

    /// <summary>The caller stopped waiting for the request with this id: the server may stop working on it. Not answered.</summary>
    Cancel = 4,

    /// <summary>Liveness probe from the caller; answered by <see cref="Pong"/> with the same id.</summary>
    Ping = 5,

    Pong = 6,
}

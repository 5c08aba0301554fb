using System.Buffers;

namespace Conclave.Server.Http2;

/// <summary>What <see cref="HeaderBlockAssembler.TryRead"/> found.</summary>
internal enum HeaderBlockStatus
{
    /// <summary>The whole block is in <see cref="HeaderBlockAssembler.Fragment"/>.</summary>
    Complete,

    /// <summary>More frames (or the rest of one) have still to arrive.</summary>
    Incomplete,

    /// <summary>The block's frames add up to more bytes than the limit, finished or not.</summary>
    TooLarge,

    /// <summary>The frames do not form a header block (RFC 9113 §6.2, §6.10); see <see cref="HeaderBlockAssembler.Problem"/>.</summary>
    Malformed,
}

/// <summary>
/// Gathers one header block (a HEADERS frame and the CONTINUATION frames after it) from received bytes into one
/// buffer, without padding. A block is refused as soon as its frames, headers and padding included, add up to more
/// than the caller's limit, which is known from frame headers before the payloads arrive: what a peer can make this
/// side hold for one block is bounded, whether the block ever finishes or not. The buffer is reused from block to
/// block and never grows past the largest limit asked for.
/// </summary>
internal sealed class HeaderBlockAssembler(int maxFrameSize)
{
    private const int PriorityLength = 5;

    private readonly byte[] priority = new byte[PriorityLength];
    private byte[] buffer = new byte[512];
    private int length;
    private bool hasPriority;

    /// <summary>The block's header block fragments, concatenated.</summary>
    public ReadOnlySpan<byte> Fragment => buffer.AsSpan(0, length);

    public int StreamId { get; private set; }

    public bool EndStream { get; private set; }

    /// <summary>The HEADERS frame's priority fields (5 bytes), or empty.</summary>
    public ReadOnlySpan<byte> Priority => hasPriority ? priority : [];

    /// <summary>
    /// Bytes of the block's frames read whole, frame headers and padding included: all of them when it is
    /// <see cref="HeaderBlockStatus.Complete"/>, else those before the point where reading stopped.
    /// </summary>
    public long FramesLength { get; private set; }

    /// <summary>Why the last block was <see cref="HeaderBlockStatus.Malformed"/> or <see cref="HeaderBlockStatus.TooLarge"/>.</summary>
    public string? Problem { get; private set; }

    /// <summary>Reads the block whose HEADERS frame starts at <paramref name="offset"/> in <paramref name="data"/>.</summary>
    /// <param name="maxBlockBytes">Most bytes the block's frames may take, frame headers and padding included.</param>
    public HeaderBlockStatus TryRead(in ReadOnlySequence<byte> data, long offset, int maxBlockBytes)
    {
        length = 0;
        hasPriority = false;
        Problem = null;
        FramesLength = 0;
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        var at = offset;
        var first = true;
        while (true)
        {
            if (data.Length - at < FrameHeader.Size)
            {
                return HeaderBlockStatus.Incomplete;
            }

            data.Slice(at, FrameHeader.Size).CopyTo(header);
            var frame = FrameHeader.Read(header);
            if (first)
            {
                StreamId = frame.StreamId;
                EndStream = frame.Has(FrameFlags.EndStream);
            }
            else if (frame.Type != FrameType.Continuation || frame.StreamId != StreamId)
            {
                return Malformed($"{frame.Type} frame on stream {frame.StreamId} inside the header block of stream {StreamId}");
            }

            if (frame.Length > maxFrameSize)
            {
                return Malformed($"{frame.Type} frame of {frame.Length} bytes exceeds SETTINGS_MAX_FRAME_SIZE {maxFrameSize}");
            }

            var end = at - offset + FrameHeader.Size + frame.Length;
            if (end > maxBlockBytes)
            {
                Problem = $"header block frames exceed {maxBlockBytes} bytes";
                return HeaderBlockStatus.TooLarge;
            }

            if (data.Length - at - FrameHeader.Size < frame.Length)
            {
                return HeaderBlockStatus.Incomplete;
            }

            var payload = data.Slice(at + FrameHeader.Size, frame.Length);
            if (first && !TryUnpad(frame, ref payload))
            {
                return Malformed($"HEADERS frame of {frame.Length} bytes is shorter than its padding and priority fields");
            }

            Append(payload, maxBlockBytes);
            at += FrameHeader.Size + frame.Length;
            FramesLength = at - offset;
            first = false;
            if (frame.Has(FrameFlags.EndHeaders))
            {
                return HeaderBlockStatus.Complete;
            }
        }
    }

    /// <summary>Cuts the pad length, priority fields and padding off a HEADERS frame's payload (RFC 9113 §6.2).</summary>
    private bool TryUnpad(in FrameHeader frame, ref ReadOnlySequence<byte> payload)
    {
        var start = 0;
        var padding = 0;
        if (frame.Has(FrameFlags.Padded))
        {
            if (payload.Length < 1)
            {
                return false;
            }

            padding = payload.FirstSpan[0];
            start = 1;
        }

        if (frame.Has(FrameFlags.Priority))
        {
            if (payload.Length < start + PriorityLength)
            {
                return false;
            }

            payload.Slice(start, PriorityLength).CopyTo(priority);
            hasPriority = true;
            start += PriorityLength;
        }

        var fragment = payload.Length - start - padding;
        if (fragment < 0)
        {
            return false;
        }

        payload = payload.Slice(start, fragment);
        return true;
    }

    private void Append(in ReadOnlySequence<byte> payload, int maxBlockBytes)
    {
        var needed = length + (int)payload.Length;
        if (needed > buffer.Length)
        {
            Array.Resize(ref buffer, Math.Max(needed, Math.Min(buffer.Length * 2, maxBlockBytes)));
        }

        payload.CopyTo(buffer.AsSpan(length));
        length = needed;
    }

    private HeaderBlockStatus Malformed(string problem)
    {
        Problem = problem;
        return HeaderBlockStatus.Malformed;
    }
}

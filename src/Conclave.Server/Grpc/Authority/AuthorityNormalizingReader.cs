using System.Buffers;
using System.IO.Pipelines;
using Conclave.Server.Http2;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// The inbound side of an HTTP/2 connection as Kestrel reads it, with :authority values Kestrel would refuse
/// repaired (<see cref="AuthorityRewriter"/>). It decides once per connection, on the first header block:
/// <list type="bullet">
/// <item>a valid :authority (every well-behaved client): from then on it hands Kestrel the socket's own buffers,
/// no copy, no parsing;</item>
/// <item>an invalid one: from then on it decodes every header block with the client's HPACK state and re-encodes
/// it for Kestrel without indexing, copying the other frames unchanged.</item>
/// </list>
/// Until the first header block is complete, Kestrel sees the bytes before it (preface, SETTINGS, ...), so the
/// connection handshake proceeds while the decision waits.
/// </summary>
internal sealed class AuthorityNormalizingReader : PipeReader
{
    private enum Mode
    {
        Undecided,
        PassThrough,
        Rewrite,
    }

    private readonly PipeReader inner;
    private readonly int headerTableSize;
    private readonly int maxFrameSize;
    private Pipe? output; // only for a connection being rewritten
    private Mode mode = Mode.Undecided;
    private long consumedAbs;                                   // stream position where the inner reader's buffer starts
    private long scanAbs = FrameWriter.Preface.Length;    // stream position of the next frame header not yet walked
    private long rawUntilAbs;                                   // once rewriting: bytes before this position go through as they are
    private ReadOnlySequence<byte> lastInner;
    private bool lastFromOutput;
    private SequencePosition lastOutputStart;
    private SequencePosition lastOutputEnd;
    private bool outputReadActive;
    private bool outputExhausted = true;
    private HpackDecoder? decoder;

    public AuthorityNormalizingReader(PipeReader inner, int headerTableSize, int maxFrameSize)
    {
        this.inner = inner;
        this.headerTableSize = headerTableSize;
        this.maxFrameSize = maxFrameSize;
    }

    /// <summary>Whether this connection's header blocks are being rewritten (for tests and logs).</summary>
    public bool Rewriting => mode == Mode.Rewrite;

    /// <summary>Once passing through, the socket's reader itself: no extra state machine per read.</summary>
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        mode == Mode.PassThrough ? inner.ReadAsync(cancellationToken) : ReadUndecidedOrRewrittenAsync(cancellationToken);

    private async ValueTask<ReadResult> ReadUndecidedOrRewrittenAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (mode)
            {
                case Mode.PassThrough:
                    lastFromOutput = false;
                    return await inner.ReadAsync(cancellationToken);
                case Mode.Rewrite:
                    return await ReadRewrittenAsync(cancellationToken);
            }

            var result = await inner.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                lastFromOutput = false;
                return result;
            }

            var visible = Scan(buffer, out var decided);
            if (decided == Mode.PassThrough)
            {
                mode = Mode.PassThrough;
                lastFromOutput = false;
                return result;
            }

            if (decided == Mode.Rewrite)
            {
                // Everything from the consumer's position on now comes through the output pipe: the bytes before the
                // first header block as they are, then the rewritten frames.
                inner.AdvanceTo(buffer.Start);
                rawUntilAbs = scanAbs;
                mode = Mode.Rewrite;
                continue;
            }

            if (visible > 0)
            {
                // Kestrel may read up to the first header block: the preface, SETTINGS, ... (its input copy loop
                // consumes any number of bytes, frame boundaries or not).
                lastFromOutput = false;
                lastInner = buffer.Slice(0, visible);
                return new ReadResult(lastInner, isCanceled: false, isCompleted: result.IsCompleted && visible == buffer.Length);
            }

            if (result.IsCompleted)
            {
                // The peer stopped inside the first header block; Kestrel reports the broken frame.
                lastFromOutput = false;
                return result;
            }

            // Nothing new to show until more of the first header block arrives.
            inner.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        if (mode == Mode.PassThrough)
        {
            lastFromOutput = false;
            return inner.TryRead(out result);
        }

        // Kestrel's HTTP/2 loop uses ReadAsync; a miss here only means "call ReadAsync".
        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (lastFromOutput)
        {
            output!.Reader.AdvanceTo(consumed, examined);
            outputReadActive = false;
            outputExhausted = examined.Equals(lastOutputEnd);
            return;
        }

        if (mode == Mode.Undecided && lastInner.Length > 0)
        {
            consumedAbs += lastInner.Slice(lastInner.Start, consumed).Length;
            lastInner = default;
        }

        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead()
    {
        inner.CancelPendingRead();
        output?.Reader.CancelPendingRead();
    }

    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception);
        output?.Reader.Complete(exception);
        output?.Writer.Complete(exception);
    }

    /// <summary>
    /// Walks frame headers from <see cref="scanAbs"/> (a frame is walked once its header is read, before its payload
    /// arrives) and returns how many bytes of <paramref name="buffer"/> (which starts at <see cref="consumedAbs"/>)
    /// Kestrel may see: never the first header block before it is decided. Sets <paramref name="decided"/> once that
    /// block is whole.
    /// </summary>
    private long Scan(ReadOnlySequence<byte> buffer, out Mode decided)
    {
        decided = Mode.Undecided;
        while (true)
        {
            var at = scanAbs - consumedAbs;
            if (at >= buffer.Length)
            {
                return buffer.Length; // all of it belongs to frames already walked (or to the preface)
            }

            if (buffer.Length - at < FrameHeader.Size)
            {
                return at; // the next frame may be the header block: show nothing of it yet
            }

            var header = ReadFrameHeader(buffer, at);
            if (header.Type == FrameType.Headers)
            {
                if (TryReadHeaderBlock(buffer, at, out var block, out _))
                {
                    decided = AuthorityRewriter.FindInvalidAuthority(AuthorityRewriter.Decode(new HpackDecoder(headerTableSize), block.Fragment)) is null
                        ? Mode.PassThrough
                        : Mode.Rewrite;
                }

                return at;
            }

            scanAbs += FrameHeader.Size + header.Length;
        }
    }

    private async ValueTask<ReadResult> ReadRewrittenAsync(CancellationToken cancellationToken)
    {
        decoder ??= new HpackDecoder(headerTableSize);
        var output = this.output ??= new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        while (outputExhausted)
        {
            var result = await inner.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var raw = Math.Min(Math.Max(rawUntilAbs - consumedAbs, 0), buffer.Length);
            foreach (var segment in buffer.Slice(0, raw))
            {
                output.Writer.Write(segment.Span);
            }

            var consumed = raw;
            var wrote = raw > 0;
            if (consumedAbs + raw >= rawUntilAbs)
            {
                consumed += Rewrite(buffer.Slice(raw), output.Writer, out var rewrote);
                wrote |= rewrote;
            }

            inner.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
            consumedAbs += consumed;
            if (wrote)
            {
                await output.Writer.FlushAsync(cancellationToken);
                outputExhausted = false;
            }
            else if (result.IsCompleted)
            {
                await output.Writer.CompleteAsync();
                outputExhausted = false;
            }
            else if (result.IsCanceled)
            {
                output.Reader.CancelPendingRead();
                outputExhausted = false;
            }
        }

        if (outputReadActive)
        {
            // The previous result was not advanced (a consumer that stops on a canceled read): nothing was consumed.
            output.Reader.AdvanceTo(lastOutputStart);
            outputReadActive = false;
        }

        var read = await output.Reader.ReadAsync(cancellationToken);
        lastFromOutput = true;
        outputReadActive = true;
        lastOutputStart = read.Buffer.Start;
        lastOutputEnd = read.Buffer.End;
        return read;
    }

    /// <summary>Copies whole frames from <paramref name="buffer"/> to <paramref name="writer"/>, re-encoding header blocks.</summary>
    private long Rewrite(ReadOnlySequence<byte> buffer, PipeWriter writer, out bool wrote)
    {
        wrote = false;
        long offset = 0;
        while (buffer.Length - offset >= FrameHeader.Size)
        {
            var header = ReadFrameHeader(buffer, offset);
            if (header.Type == FrameType.Headers)
            {
                if (!TryReadHeaderBlock(buffer, offset, out var block, out var blockLength))
                {
                    break;
                }

                var fields = AuthorityRewriter.Decode(decoder!, block.Fragment);
                AuthorityRewriter.WriteHeaderFrames(writer, header.StreamId, block.EndStream, block.Priority, AuthorityRewriter.Encode(fields), maxFrameSize);
                offset += blockLength;
                wrote = true;
                continue;
            }

            var frameLength = FrameHeader.Size + header.Length;
            if (buffer.Length - offset < frameLength)
            {
                break;
            }

            foreach (var segment in buffer.Slice(offset, frameLength))
            {
                writer.Write(segment.Span);
            }

            offset += frameLength;
            wrote = true;
        }

        return offset;
    }

    private readonly record struct HeaderBlock(byte[] Fragment, bool EndStream, byte[] Priority);

    private static FrameHeader ReadFrameHeader(ReadOnlySequence<byte> buffer, long offset)
    {
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        buffer.Slice(offset, FrameHeader.Size).CopyTo(header);
        return FrameHeader.Read(header);
    }

    /// <summary>
    /// Reads a HEADERS frame at <paramref name="offset"/> and its CONTINUATION frames, without padding; false when
    /// the block is not all in <paramref name="buffer"/> yet.
    /// </summary>
    private static bool TryReadHeaderBlock(ReadOnlySequence<byte> buffer, long offset, out HeaderBlock block, out long blockLength)
    {
        block = default;
        blockLength = 0;
        var fragment = new ArrayBufferWriter<byte>();
        var endStream = false;
        byte[] priority = [];
        var at = offset;
        var first = true;
        while (true)
        {
            if (buffer.Length - at < FrameHeader.Size)
            {
                return false;
            }

            var header = ReadFrameHeader(buffer, at);
            if (buffer.Length - at < FrameHeader.Size + header.Length)
            {
                return false;
            }

            if (!first && header.Type != FrameType.Continuation)
            {
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"{header.Type} frame inside a header block");
            }

            var payload = buffer.Slice(at + FrameHeader.Size, header.Length).ToArray().AsSpan();
            if (first)
            {
                endStream = header.Has(FrameFlags.EndStream);
                var (start, length) = FrameReader.HeaderBlockFragment(header, payload);
                if (header.Has(FrameFlags.Priority))
                {
                    priority = payload.Slice(start - 5, 5).ToArray();
                }

                payload = payload.Slice(start, length);
            }

            fragment.Write(payload);
            at += FrameHeader.Size + header.Length;
            first = false;
            if (header.Has(FrameFlags.EndHeaders))
            {
                block = new HeaderBlock(fragment.WrittenSpan.ToArray(), endStream, priority);
                blockLength = at - offset;
                return true;
            }
        }
    }
}

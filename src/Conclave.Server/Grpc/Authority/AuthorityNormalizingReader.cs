using System.Buffers;
using System.IO.Pipelines;
using Conclave.Server.Http2;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Grpc.Authority;

/// <summary>
/// The inbound side of an HTTP/2 connection as Kestrel reads it, with :authority values Kestrel would refuse
/// repaired (<see cref="RepairingEncoder"/>). It decides once per connection, on the first header block:
/// <list type="bullet">
/// <item>a valid :authority (every well-behaved client): from then on it hands Kestrel the socket's own buffers,
/// no copy, no parsing;</item>
/// <item>an invalid one: from then on it decodes every header block with the client's HPACK state and re-encodes
/// it for Kestrel without indexing, copying the other frames unchanged.</item>
/// </list>
/// Until the first header block is complete, Kestrel sees the bytes before it (preface, SETTINGS, ...), so the
/// connection handshake proceeds while the decision waits.
/// <para>
/// Nothing it reads is trusted (<see cref="HeaderBlockLimits"/>). A header block is held only up to a byte limit
/// and only until Kestrel's RequestHeadersTimeout; its decoding stops at Kestrel's header limits. A first block it
/// cannot decide on within those bounds goes to Kestrel unread, so Kestrel refuses (or serves) it exactly as it
/// would without this reader. On a repaired connection, where Kestrel's HPACK state is no longer the client's, a
/// block past a limit goes to Kestrel as received (whole blocks) and the input ends after it: Kestrel answers with
/// its own connection error, then closes. A block not finished in time ends the input: Kestrel sends GOAWAY and
/// closes.
/// </para>
/// </summary>
internal sealed class AuthorityNormalizingReader : PipeReader
{
    private enum Mode
    {
        Undecided,
        PassThrough,
        Rewrite,
        Ended,
    }

    private readonly PipeReader inner;
    private readonly HeaderBlockLimits limits;
    private readonly HeaderBlockEvents events;
    private readonly string connectionId;
    private readonly HeaderBlockAssembler assembler;
    private Pipe? output; // only for a connection being rewritten
    private Mode mode = Mode.Undecided;
    private long consumedAbs;                             // stream position where the inner reader's buffer starts
    private long scanAbs = FrameWriter.Preface.Length;    // stream position of the next frame header not yet walked
    private long rawUntilAbs;                             // once rewriting: bytes before this position go through as they are
    private ReadOnlySequence<byte> lastInner;
    private bool lastFromOutput;
    private SequencePosition lastOutputStart;
    private SequencePosition lastOutputEnd;
    private bool outputReadActive;
    private bool outputExhausted = true;
    private bool ending;                                  // rewrite mode: the input ends once the output is read
    private HpackDecoder? decoder;
    private RepairingEncoder? encoder;
    private long waitingForAbs = -1;                      // stream position of the header block being waited for
    private CancellationTokenSource? deadline;            // when that wait ends

    public AuthorityNormalizingReader(PipeReader inner, HeaderBlockLimits limits, HeaderBlockEvents? events = null, string connectionId = "")
    {
        this.inner = inner;
        this.limits = limits;
        this.events = events ?? new HeaderBlockEvents(NullLogger.Instance, meter: null);
        this.connectionId = connectionId;
        assembler = new HeaderBlockAssembler(limits.MaxFrameSize);
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
                case Mode.Ended:
                    lastFromOutput = false;
                    return new ReadResult(ReadOnlySequence<byte>.Empty, isCanceled: false, isCompleted: true);
            }

            if (await ReadInnerAsync(cancellationToken) is not { } result)
            {
                End();
                continue;
            }

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

            inner.AdvanceTo(buffer.Start, buffer.End);
            if (DeadlinePassed())
            {
                End();
            }

            // Otherwise nothing new to show until more of the first header block arrives.
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

        if (mode == Mode.Ended)
        {
            return; // the empty, completed result: nothing to give back
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
        deadline?.Dispose();
        deadline = null;
        inner.Complete(exception);
        output?.Reader.Complete(exception);
        output?.Writer.Complete(exception);
    }

    /// <summary>
    /// Walks frame headers from <see cref="scanAbs"/> (a frame is walked once its header is read, before its payload
    /// arrives) and returns how many bytes of <paramref name="buffer"/> (which starts at <see cref="consumedAbs"/>)
    /// Kestrel may see: never the first header block before it is decided. Sets <paramref name="decided"/> once that
    /// block is whole, or once it is clear the block will not be inspected.
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
            if (header.Type != FrameType.Headers)
            {
                scanAbs += FrameHeader.Size + header.Length;
                continue;
            }

            switch (assembler.TryRead(buffer, at, limits.FirstBlockBytes))
            {
                case HeaderBlockStatus.Incomplete:
                    AwaitBlock(scanAbs);
                    return at;
                case HeaderBlockStatus.Complete:
                    decided = Decide();
                    break;
                default:
                    events.FirstBlockNotInspected(connectionId, assembler.Problem!);
                    decided = Mode.PassThrough;
                    break;
            }

            BlockDone();
            return at;
        }
    }

    /// <summary>Whether the complete first block carries an :authority Kestrel would refuse.</summary>
    private Mode Decide()
    {
        var check = new AuthorityCheck();
        try
        {
            new HpackDecoder(limits.HeaderTableSize, limits.Hpack).Decode(assembler.Fragment, check);
        }
        catch (HpackException e)
        {
            // Kestrel decodes the same bytes with the same (fresh) table and the same limits: it refuses them itself.
            events.FirstBlockNotInspected(connectionId, e.Message);
            return Mode.PassThrough;
        }

        return check.Invalid ? Mode.Rewrite : Mode.PassThrough;
    }

    private async ValueTask<ReadResult> ReadRewrittenAsync(CancellationToken cancellationToken)
    {
        decoder ??= new HpackDecoder(limits.HeaderTableSize, limits.Hpack);
        var output = this.output ??= new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        while (outputExhausted)
        {
            if (ending)
            {
                await output.Writer.CompleteAsync();
                outputExhausted = false;
                break;
            }

            if (await ReadInnerAsync(cancellationToken) is not { } result)
            {
                ending = true;
                events.TimedOut(connectionId, limits.HeaderBlockTimeout);
                continue;
            }

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
                consumed += Rewrite(buffer.Slice(raw), consumedAbs + raw, output.Writer, out var rewrote);
                wrote |= rewrote;
            }

            inner.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
            consumedAbs += consumed;
            if (!ending && DeadlinePassed())
            {
                ending = true;
                events.TimedOut(connectionId, limits.HeaderBlockTimeout);
            }

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

    /// <summary>
    /// Copies whole frames from <paramref name="buffer"/> (at stream position <paramref name="bufferAbs"/>) to
    /// <paramref name="writer"/>, re-encoding header blocks; stops at the first block past a limit, after which
    /// the input ends (<see cref="ending"/>).
    /// </summary>
    private long Rewrite(ReadOnlySequence<byte> buffer, long bufferAbs, PipeWriter writer, out bool wrote)
    {
        wrote = false;
        long offset = 0;
        while (!ending && buffer.Length - offset >= FrameHeader.Size)
        {
            var header = ReadFrameHeader(buffer, offset);
            if (header.Type == FrameType.Headers)
            {
                var status = assembler.TryRead(buffer, offset, limits.RewrittenBlockBytes);
                if (status == HeaderBlockStatus.Incomplete)
                {
                    AwaitBlock(bufferAbs + offset);
                    break;
                }

                BlockDone();
                if (status != HeaderBlockStatus.Complete)
                {
                    // Not a block Kestrel would take either. It gets the block's whole frames as they came (and
                    // answers them with its own connection error when they already pass its limits), then nothing more.
                    events.RepairedBlockRefused(connectionId, assembler.Problem!);
                    if (assembler.FramesLength > 0)
                    {
                        CopyTo(writer, buffer.Slice(offset, assembler.FramesLength));
                        offset += assembler.FramesLength;
                        wrote = true; // else nothing to flush: an empty flush would leave Kestrel's read waiting
                    }

                    ending = true;
                    break;
                }

                var block = buffer.Slice(offset, assembler.FramesLength);
                offset += assembler.FramesLength;
                wrote = true;
                if (!TryRepair(out var problem))
                {
                    // Kestrel reads the block as the client sent it and refuses it with its own connection error.
                    events.RepairedBlockRefused(connectionId, problem);
                    CopyTo(writer, block);
                    ending = true;
                    break;
                }

                AuthorityRewriter.WriteHeaderFrames(writer, assembler.StreamId, assembler.EndStream, assembler.Priority, encoder!.Block, limits.MaxFrameSize);
                continue;
            }

            if (header.Length > limits.MaxFrameSize)
            {
                // Kestrel refuses the frame by its header (FRAME_SIZE_ERROR): no need to hold its payload.
                CopyTo(writer, buffer.Slice(offset, FrameHeader.Size));
                offset += FrameHeader.Size;
                wrote = true;
                ending = true;
                break;
            }

            var frameLength = FrameHeader.Size + header.Length;
            if (buffer.Length - offset < frameLength)
            {
                break;
            }

            CopyTo(writer, buffer.Slice(offset, frameLength));
            offset += frameLength;
            wrote = true;
        }

        return offset;
    }

    /// <summary>Decodes the assembled block with the connection's HPACK state into <see cref="encoder"/>.</summary>
    private bool TryRepair(out string problem)
    {
        encoder ??= new RepairingEncoder();
        encoder.Reset();
        try
        {
            decoder!.Decode(assembler.Fragment, encoder);
            problem = string.Empty;
            return true;
        }
        catch (HpackException e)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Reads from the socket; while a header block is awaited, only until its deadline. Null when that deadline
    /// passed with the block still unfinished. Without an await of its own when the read completes at once.
    /// </summary>
    private ValueTask<ReadResult?> ReadInnerAsync(CancellationToken cancellationToken)
    {
        if (deadline is not null && cancellationToken.CanBeCanceled)
        {
            return ReadLinkedAsync(cancellationToken);
        }

        var read = inner.ReadAsync(deadline?.Token ?? cancellationToken);
        // The allocation-free fast path: the read has completed (checked first), so taking its result does not block.
#pragma warning disable VSTHRD103
        return read.IsCompletedSuccessfully ? new ValueTask<ReadResult?>(read.Result) : AwaitReadAsync(read, cancellationToken);
#pragma warning restore VSTHRD103
    }

    private async ValueTask<ReadResult?> AwaitReadAsync(ValueTask<ReadResult> read, CancellationToken cancellationToken)
    {
        try
        {
            return await read;
        }
        catch (OperationCanceledException) when (DeadlinePassed() && !cancellationToken.IsCancellationRequested)
        {
            return Late();
        }
    }

    private async ValueTask<ReadResult?> ReadLinkedAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline!.Token);
        try
        {
            return await inner.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (DeadlinePassed() && !cancellationToken.IsCancellationRequested)
        {
            return Late();
        }
    }

    /// <summary>The block may have finished just as its deadline passed: what has arrived decides.</summary>
    private ReadResult? Late() => inner.TryRead(out var late) ? late : null;

    /// <summary>Starts the deadline of the header block at <paramref name="blockAbs"/>, unless it runs already.</summary>
    private void AwaitBlock(long blockAbs)
    {
        if (waitingForAbs == blockAbs)
        {
            return;
        }

        deadline?.Dispose();
        waitingForAbs = blockAbs;
        deadline = new CancellationTokenSource(limits.HeaderBlockTimeout, limits.TimeProvider);
    }

    private void BlockDone()
    {
        waitingForAbs = -1;
        deadline?.Dispose();
        deadline = null;
    }

    private bool DeadlinePassed() => deadline is { IsCancellationRequested: true };

    /// <summary>The first header block did not finish in time: Kestrel's input ends here.</summary>
    private void End()
    {
        events.TimedOut(connectionId, limits.HeaderBlockTimeout);
        BlockDone();
        mode = Mode.Ended;
    }

    private static void CopyTo(PipeWriter writer, in ReadOnlySequence<byte> bytes)
    {
        foreach (var segment in bytes)
        {
            writer.Write(segment.Span);
        }
    }

    private static FrameHeader ReadFrameHeader(ReadOnlySequence<byte> buffer, long offset)
    {
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        buffer.Slice(offset, FrameHeader.Size).CopyTo(header);
        return FrameHeader.Read(header);
    }
}

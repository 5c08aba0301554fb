using System.Buffers.Binary;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>The receive side: one loop per connection that reads, parses frames and completes calls.</summary>
internal sealed partial class LeanGrpcConnection
{
    /// <summary>This side never raises SETTINGS_MAX_FRAME_SIZE, so no frame may be longer.</summary>
    private const int MaxReceivedFrameSize = 16_384;

    private const int ReceiveBufferSize = 256 * 1024;

    private readonly HpackDecoder _decoder = new();
    private readonly ResponsePayload _payload = new();

    // Reader loop only.
    private int _receivedSinceWindowUpdate;
    private byte[]? _headerBlock;
    private int _headerBlockLength;
    private int _headerBlockStreamId;
    private bool _headerBlockEndsStream;

    /// <summary>The managed thread id of the reader while it processes a batch, else 0.</summary>
    private volatile int _readerBatchThread;

    /// <summary>
    /// The reader is a dedicated thread blocked in recv: the kernel wakes it directly when bytes arrive, with no
    /// epoll hop and no thread-pool worker spinning for work, which is most of the CPU an idle-ish client burns.
    /// </summary>
    private void StartReading() => new Thread(ReadLoop) { IsBackground = true, Name = $"lean-h2 {Authority}" }.Start();

    private void ReadLoop()
    {
        var buffer = new byte[ReceiveBufferSize];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                var received = Receive(buffer, end, buffer.Length - end);
                if (received == 0)
                {
                    throw new IOException($"{Authority} closed the connection.");
                }

                end += received;
                _readerBatchThread = Environment.CurrentManagedThreadId;
                try
                {
                    start = ProcessFrames(buffer, start, end);
                }
                finally
                {
                    _readerBatchThread = 0;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < FrameHeader.Size + MaxReceivedFrameSize)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                // One send for every frame the batch produced: requests issued by completed calls, ACKs, window updates.
                TryStartFlush();
            }
        }
        catch (Exception e)
        {
            Shutdown(e, e switch
            {
                Http2ProtocolException p => p.ErrorCode,
                HpackException => Http2ErrorCode.CompressionError,
                _ => null,
            });
        }
    }

    /// <summary>Handles every whole frame in buffer[start..end); returns where the first incomplete frame starts.</summary>
    private int ProcessFrames(byte[] buffer, int start, int end)
    {
        while (FrameReader.TryRead(buffer.AsSpan(start, end - start), MaxReceivedFrameSize, out var header))
        {
            var payload = new ReadOnlyMemory<byte>(buffer, start + FrameHeader.Size, header.Length);
            start += FrameHeader.Size + header.Length;
            if (_headerBlockStreamId != 0 && header.Type != FrameType.Continuation)
            {
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"{header.Type} frame inside a header block of stream {_headerBlockStreamId}.");
            }

            switch (header.Type)
            {
                case FrameType.Data:
                    OnData(header, payload);
                    break;
                case FrameType.Headers:
                    OnHeaders(header, payload.Span);
                    break;
                case FrameType.Continuation:
                    OnContinuation(header, payload.Span);
                    break;
                case FrameType.RstStream:
                    OnRstStream(header, payload.Span);
                    break;
                case FrameType.Settings:
                    OnSettings(header, payload.Span);
                    break;
                case FrameType.Ping:
                    OnPing(header, payload.Span);
                    break;
                case FrameType.GoAway:
                    OnGoAway(header, payload.Span);
                    break;
                case FrameType.WindowUpdate:
                    OnWindowUpdate(header, payload.Span);
                    break;
                case FrameType.PushPromise:
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0.");
                default:
                    // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
                    break;
            }
        }

        return start;
    }

    private void OnData(in FrameHeader header, ReadOnlyMemory<byte> payload)
    {
        RequireStream(header);

        // Flow control counts the whole payload, padding included, also for streams nobody waits for.
        _receivedSinceWindowUpdate += header.Length;
        if (_receivedSinceWindowUpdate >= ReceiveWindow / 2)
        {
            lock (_lock)
            {
                WriteWindowUpdate(0, _receivedSinceWindowUpdate);
            }

            _receivedSinceWindowUpdate = 0;
        }

        var stream = Find(header.StreamId);
        if (stream is null)
        {
            return;
        }

        var (offset, length) = FrameReader.DataContent(header, payload.Span);
        stream.OnData(payload.Slice(offset, length), _payload);
        if (header.Has(FrameFlags.EndStream))
        {
            Finish(stream);
            return;
        }

        stream.ReceivedSinceWindowUpdate += header.Length;
        if (stream.ReceivedSinceWindowUpdate >= ReceiveWindow / 2)
        {
            lock (_lock)
            {
                WriteWindowUpdate(stream.Id, stream.ReceivedSinceWindowUpdate);
            }

            stream.ReceivedSinceWindowUpdate = 0;
        }
    }

    private void OnHeaders(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireStream(header);
        var (offset, length) = FrameReader.HeaderBlockFragment(header, payload);
        var fragment = payload.Slice(offset, length);
        if (header.Has(FrameFlags.EndHeaders))
        {
            OnHeaderBlock(header.StreamId, fragment, header.Has(FrameFlags.EndStream));
            return;
        }

        _headerBlockStreamId = header.StreamId;
        _headerBlockEndsStream = header.Has(FrameFlags.EndStream);
        _headerBlockLength = 0;
        AppendHeaderBlock(fragment);
    }

    private void OnContinuation(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (_headerBlockStreamId == 0 || header.StreamId != _headerBlockStreamId)
        {
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"CONTINUATION on stream {header.StreamId} without a header block in progress.");
        }

        AppendHeaderBlock(payload);
        if (header.Has(FrameFlags.EndHeaders))
        {
            var streamId = _headerBlockStreamId;
            _headerBlockStreamId = 0;
            OnHeaderBlock(streamId, _headerBlock.AsSpan(0, _headerBlockLength), _headerBlockEndsStream);
        }
    }

    private void AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        if (_headerBlock is null || _headerBlock.Length - _headerBlockLength < fragment.Length)
        {
            var bigger = new byte[Math.Max(_headerBlockLength + fragment.Length, (_headerBlock?.Length ?? 1024) * 2)];
            _headerBlock.AsSpan(0, _headerBlockLength).CopyTo(bigger);
            _headerBlock = bigger;
        }

        fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength += fragment.Length;
    }

    private void OnHeaderBlock(int streamId, ReadOnlySpan<byte> block, bool endsStream)
    {
        var stream = Find(streamId);

        // Decode even for a stream nobody waits for: the dynamic table must see every block.
        _decoder.Decode(block, stream);
        if (stream is not null && endsStream)
        {
            Finish(stream);
        }
    }

    private void OnRstStream(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireStream(header);
        RequireLength(header, 4);
        var code = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload);
        var stream = Find(header.StreamId);
        if (stream is null)
        {
            return;
        }

        lock (_lock)
        {
            Close(stream);
        }

        stream.TryComplete(code switch
        {
            Http2ErrorCode.RefusedStream => new Status(StatusCode.Unavailable, $"{Authority} refused the stream (REFUSED_STREAM)."),
            Http2ErrorCode.Cancel => new Status(StatusCode.Cancelled, $"{Authority} cancelled the stream (CANCEL)."),
            _ => new Status(StatusCode.Internal, $"{Authority} reset the stream ({code})."),
        });
    }

    private void OnSettings(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId != 0)
        {
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "SETTINGS on a stream.");
        }

        if (header.Has(FrameFlags.Ack))
        {
            RequireLength(header, 0);
            return;
        }

        lock (_lock)
        {
            FrameReader.ForEachSetting(payload, this, static (self, id, value) => self.ApplySetting(id, value));
            PromoteWaiting();
            ResumeWaitingForWindow();
            FrameWriter.SettingsAck(Reserve(FrameWriter.SettingsAckSize));
        }

        _settingsReceived.TrySetResult();
    }

    /// <summary>One setting from the peer (RFC 9113 §6.5.2). Under the lock.</summary>
    private void ApplySetting(ushort id, uint value)
    {
        switch (id)
        {
            case 0x3: // SETTINGS_MAX_CONCURRENT_STREAMS
                _peerMaxConcurrentStreams = value;
                break;
            case 0x4: // SETTINGS_INITIAL_WINDOW_SIZE: applies to open streams too (§6.9.2)
                if (value > int.MaxValue)
                {
                    throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, $"SETTINGS_INITIAL_WINDOW_SIZE {value} is above 2^31-1.");
                }

                var delta = (int)value - _peerInitialWindow;
                _peerInitialWindow = (int)value;
                foreach (var stream in _streams.Values)
                {
                    stream.SendWindow += delta;
                }

                break;
            case 0x5: // SETTINGS_MAX_FRAME_SIZE
                if (value is < 16_384 or > 16_777_215)
                {
                    throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"SETTINGS_MAX_FRAME_SIZE {value} is outside 2^14..2^24-1.");
                }

                _peerMaxFrameSize = (int)value;
                break;
            default:
                // HEADER_TABLE_SIZE concerns an encoder state this side never uses; the rest are advisory.
                break;
        }
    }

    private void OnPing(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireLength(header, 8);
        if (header.Has(FrameFlags.Ack))
        {
            return;
        }

        lock (_lock)
        {
            FrameWriter.PingAck(Reserve(FrameWriter.PingSize), payload);
        }
    }

    private void OnGoAway(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Length < 8)
        {
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"GOAWAY of {header.Length} bytes.");
        }

        var lastStreamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fff_ffff);
        var code = (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
        List<LeanStream> refused = [];
        bool idle;
        lock (_lock)
        {
            // Take the queue first: closing a refused stream must not open a queued one.
            _retiring = true;
            refused.AddRange(_waitingForSlot);
            _waitingForSlot.Clear();
            foreach (var stream in _streams.Values)
            {
                if (stream.Id > lastStreamId)
                {
                    refused.Add(stream);
                }
            }

            foreach (var stream in refused)
            {
                if (stream.Id != 0)
                {
                    Close(stream);
                }
            }

            idle = _open == 0;
        }

        // Streams above the last id were never processed: safe to retry elsewhere, hence Unavailable.
        var status = new Status(StatusCode.Unavailable, $"{Authority} is closing the connection (GOAWAY {code}).");
        foreach (var stream in refused)
        {
            stream.ReleaseRequest();
            stream.TryComplete(status);
        }

        if (idle)
        {
            Shutdown(new IOException($"{Authority} closed the connection (GOAWAY {code})."), null);
        }
    }

    private void OnWindowUpdate(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        RequireLength(header, 4);
        var increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fff_ffff);
        if (increment == 0)
        {
            if (header.StreamId == 0)
            {
                throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "WINDOW_UPDATE with increment 0 on the connection.");
            }

            return;
        }

        lock (_lock)
        {
            if (header.StreamId == 0)
            {
                _sendWindow += increment;
                if (_sendWindow > int.MaxValue)
                {
                    throw new Http2ProtocolException(Http2ErrorCode.FlowControlError, "Connection send window above 2^31-1.");
                }
            }
            else if (_streams.TryGetValue(header.StreamId, out var stream))
            {
                stream.SendWindow += increment;
            }

            ResumeWaitingForWindow();
        }
    }

    /// <summary>The stream ended: close it, then complete its call (whose continuation may start the next call).</summary>
    private void Finish(LeanStream stream)
    {
        bool idle;
        lock (_lock)
        {
            var unsent = stream.Request is not null;
            if (Close(stream) && unsent)
            {
                // The server answered before the whole request was sent: close our half too.
                WriteRstStream(stream.Id, Http2ErrorCode.NoError);
            }

            idle = _retiring && _open == 0 && _waitingForSlot.Count == 0;
        }

        stream.TryComplete(stream.Outcome());
        if (idle)
        {
            Shutdown(new IOException($"The connection to {Authority} was retired."), null);
        }
    }

    private LeanStream? Find(int streamId)
    {
        lock (_lock)
        {
            return _streams.GetValueOrDefault(streamId);
        }
    }

    private static void RequireStream(in FrameHeader header)
    {
        if (header.StreamId == 0)
        {
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, $"{header.Type} frame on stream 0.");
        }
    }

    private static void RequireLength(in FrameHeader header, int length)
    {
        if (header.Length != length)
        {
            throw new Http2ProtocolException(Http2ErrorCode.FrameSizeError, $"{header.Type} frame of {header.Length} bytes, expected {length}.");
        }
    }
}

using System.Net.Security;
using System.Net.Sockets;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// One HTTP/2 connection (cleartext with prior knowledge, or TLS with ALPN h2) carrying many concurrent unary gRPC
/// calls, built for a load generator's CPU budget: fixed header blocks, no per-call HTTP objects, one receive loop
/// that parses frames and completes calls, and outgoing frames gathered in one buffer so that one send carries many
/// requests.
/// </summary>
/// <remarks>
/// Sending: callers append HEADERS + DATA under <see cref="_lock"/>; whoever finds no flush running starts one,
/// except the reader loop, which flushes once after each received batch (the calls it completes start their next
/// requests inline, so a batch of responses becomes one batch of requests). Flow control is honoured both ways:
/// request DATA waits for the peer's windows; this side advertises 16 MiB windows and tops them up as it reads.
/// </remarks>
internal sealed partial class LeanGrpcConnection : IDisposable
{
    /// <summary>Stream and connection receive window this side advertises.</summary>
    public const int ReceiveWindow = 16 * 1024 * 1024;

    private const int DefaultWindow = 65_535;
    private const int MaxStreamId = int.MaxValue;

    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;

    /// <summary>The TLS session over <see cref="_socket"/>, or null on cleartext: then the socket is read and written directly.</summary>
    private readonly SslStream? _tls;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, LeanStream> _streams = [];
    private readonly Queue<LeanStream> _waitingForSlot = new();
    private readonly List<LeanStream> _waitingForWindow = [];
    private readonly TaskCompletionSource _settingsReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Under _lock.
    private byte[] _outgoing = new byte[16 * 1024];
    private byte[]? _spare = new byte[16 * 1024];
    private int _outgoingLength;
    private bool _flushing;
    private int _nextStreamId = 1;
    private int _open;
    private long _sendWindow = DefaultWindow;
    private int _peerInitialWindow = DefaultWindow;
    private int _peerMaxFrameSize = 16_384;
    private long _peerMaxConcurrentStreams = uint.MaxValue;
    private volatile bool _retiring;
    private volatile Exception? _failure;

    private LeanGrpcConnection(Socket socket, SslStream? tls, string authority)
    {
        _socket = socket;
        _tls = tls;
        Authority = authority;
    }

    /// <summary>host:port, for messages.</summary>
    public string Authority { get; }

    /// <summary>False once the connection failed, got GOAWAY or ran out of stream ids: new calls need another.</summary>
    public bool IsAcceptingStreams => _failure is null && !_retiring;

    /// <summary>
    /// Connects (with a TLS handshake when <paramref name="tls"/> is given), sends the preface and settings, and
    /// returns once the server's SETTINGS arrived.
    /// </summary>
    public static async Task<LeanGrpcConnection> ConnectAsync(string host, int port, string authority, SslClientAuthenticationOptions? tls, CancellationToken cancellationToken)
    {
        // Blocking socket calls only, here too: one asynchronous operation would switch the socket to non-blocking
        // mode for good, and every later receive would go through epoll and the thread pool. TLS runs on the same
        // blocking calls (synchronous handshake, reads and writes).
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, SendTimeout = (int)SendTimeout.TotalMilliseconds };
        SslStream? ssl = null;
        LeanGrpcConnection? connection = null;
        try
        {
            await Task.Run(() => socket.Connect(host, port), CancellationToken.None).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (tls is not null)
            {
                ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
                await Task.Run(() => ssl.AuthenticateAsClient(tls), CancellationToken.None).WaitAsync(cancellationToken).ConfigureAwait(false);

                // A server that names no protocol still gets HTTP/2 with prior knowledge; one that picked another refuses it.
                if (ssl.NegotiatedApplicationProtocol != default && ssl.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
                {
                    throw new IOException($"{authority} chose {ssl.NegotiatedApplicationProtocol} over TLS, not h2.");
                }
            }

            connection = new LeanGrpcConnection(socket, ssl, authority);
            connection.WritePreface();
            connection.StartReading();
            connection.TryStartFlush();
            await connection._settingsReceived.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            if (connection is null)
            {
                ssl?.Dispose();
                socket.Dispose();
            }
            else
            {
                connection.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Opens a stream for <paramref name="stream"/> (or queues it while SETTINGS_MAX_CONCURRENT_STREAMS streams are
    /// open). False when this connection takes no new streams; the caller then uses another connection.
    /// </summary>
    public bool TryStart(LeanStream stream)
    {
        lock (_lock)
        {
            // Keep ids in reserve for the queued streams, so that a queued stream never finds them exhausted.
            if (_failure is not null || _retiring || _nextStreamId > MaxStreamId - (2 * (_waitingForSlot.Count + 1)))
            {
                _retiring |= _failure is null && _nextStreamId > MaxStreamId - (2 * (_waitingForSlot.Count + 1));
                return false;
            }

            stream.Connection = this;
            if (stream.IsCompleted)
            {
                stream.ReleaseRequest();
                return true;
            }

            if (_open >= _peerMaxConcurrentStreams)
            {
                _waitingForSlot.Enqueue(stream);
            }
            else
            {
                Open(stream);
            }
        }

        FlushUnlessReading();
        return true;
    }

    /// <summary>Forgets a stream its caller gave up on (already completed): resets it if it was opened.</summary>
    public void Abandon(LeanStream stream)
    {
        lock (_lock)
        {
            if (stream.Id == 0)
            {
                // Still queued: PromoteWaiting skips completed streams.
                return;
            }

            if (!Close(stream))
            {
                return;
            }

            WriteRstStream(stream.Id, Http2ErrorCode.Cancel);
        }

        FlushUnlessReading();
    }

    public void Dispose() => Shutdown(new IOException($"The connection to {Authority} was closed by the client."), null);

    /// <summary>Ends the connection: fails every call still on it, sends GOAWAY when <paramref name="code"/> is given.</summary>
    private void Shutdown(Exception reason, Http2ErrorCode? code)
    {
        List<LeanStream> victims;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return;
            }

            _failure = reason;
            victims = [.. _streams.Values, .. _waitingForSlot];
            _streams.Clear();
            _waitingForSlot.Clear();
            _waitingForWindow.Clear();
            _open = 0;
            foreach (var victim in victims)
            {
                victim.ReleaseRequest();
            }
        }

        if (code is { } c)
        {
            try
            {
                var goAway = new byte[FrameWriter.GoAwaySize];
                FrameWriter.GoAway(goAway, 0, c);
                Send(goAway, goAway.Length);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or NotSupportedException)
            {
                // NotSupportedException: a flush is writing to the TLS stream right now, which takes one writer at a time.
            }
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _tls?.Dispose();
        _socket.Dispose();
        _settingsReceived.TrySetException(reason);
        var status = reason is Http2ProtocolException or HpackException
            ? new Status(StatusCode.Internal, $"HTTP/2 protocol error on the connection to {Authority}: {reason.Message}")
            : new Status(StatusCode.Unavailable, $"The connection to {Authority} failed: {reason.Message}", reason);
        foreach (var victim in victims)
        {
            victim.TryComplete(status);
        }
    }

    private void WritePreface()
    {
        lock (_lock)
        {
            FrameWriter.Preface.CopyTo(Reserve(FrameWriter.Preface.Length));
            ReadOnlySpan<(ushort, uint)> settings =
            [
                (0x2, 0), // SETTINGS_ENABLE_PUSH
                (0x4, ReceiveWindow), // SETTINGS_INITIAL_WINDOW_SIZE
            ];
            FrameWriter.Settings(Reserve(FrameHeader.Size + (settings.Length * 6)), settings);
            WriteWindowUpdate(0, ReceiveWindow - DefaultWindow);
        }
    }

    /// <summary>Assigns the next stream id and writes HEADERS, then as much DATA as the windows allow. Under the lock.</summary>
    private void Open(LeanStream stream)
    {
        var id = _nextStreamId;
        _nextStreamId += 2;
        stream.Id = id;
        stream.SendWindow = _peerInitialWindow;
        _streams.Add(id, stream);
        _open++;

        var block = stream.HeaderBlock;
        var first = Math.Min(block.Length, _peerMaxFrameSize);
        var span = Reserve(FrameHeader.Size + first);
        FrameHeader.Write(span, first, FrameType.Headers, first == block.Length ? FrameFlags.EndHeaders : (byte)0, id);
        block.AsSpan(0, first).CopyTo(span[FrameHeader.Size..]);
        for (var at = first; at < block.Length;)
        {
            var n = Math.Min(block.Length - at, _peerMaxFrameSize);
            span = Reserve(FrameHeader.Size + n);
            FrameHeader.Write(span, n, FrameType.Continuation, at + n == block.Length ? FrameFlags.EndHeaders : (byte)0, id);
            block.AsSpan(at, n).CopyTo(span[FrameHeader.Size..]);
            at += n;
        }

        WriteData(stream);
    }

    /// <summary>Writes the request's remaining DATA within the send windows; parks the stream when they run out.</summary>
    private void WriteData(LeanStream stream)
    {
        var request = stream.Request;
        while (request is not null)
        {
            var remaining = stream.RequestLength - stream.RequestSent;
            var n = (int)Math.Min(Math.Min(remaining, _peerMaxFrameSize), Math.Min(stream.SendWindow, _sendWindow));
            if (n <= 0)
            {
                if (!stream.WaitingForWindow)
                {
                    stream.WaitingForWindow = true;
                    _waitingForWindow.Add(stream);
                }

                return;
            }

            var last = n == remaining;
            var span = Reserve(FrameHeader.Size + n);
            FrameHeader.Write(span, n, FrameType.Data, last ? FrameFlags.EndStream : (byte)0, stream.Id);
            request.AsSpan(stream.RequestSent, n).CopyTo(span[FrameHeader.Size..]);
            stream.RequestSent += n;
            stream.SendWindow -= n;
            _sendWindow -= n;
            if (last)
            {
                stream.ReleaseRequest();
                return;
            }
        }
    }

    /// <summary>Writes what the windows now allow for parked streams. Under the lock.</summary>
    private void ResumeWaitingForWindow()
    {
        if (_waitingForWindow.Count == 0 || _sendWindow <= 0)
        {
            return;
        }

        LeanStream[] parked = [.. _waitingForWindow];
        _waitingForWindow.Clear();
        foreach (var stream in parked)
        {
            stream.WaitingForWindow = false;
            if (_streams.ContainsKey(stream.Id))
            {
                WriteData(stream);
            }
        }
    }

    /// <summary>Opens queued streams while the peer's concurrency limit allows. Under the lock.</summary>
    private void PromoteWaiting()
    {
        while (_waitingForSlot.Count > 0 && _open < _peerMaxConcurrentStreams)
        {
            var stream = _waitingForSlot.Dequeue();
            if (stream.IsCompleted)
            {
                stream.ReleaseRequest();
                continue;
            }

            Open(stream);
        }
    }

    /// <summary>Removes an open stream; false if it was already closed. Under the lock.</summary>
    private bool Close(LeanStream stream)
    {
        if (!_streams.Remove(stream.Id))
        {
            return false;
        }

        _open--;
        if (stream.WaitingForWindow)
        {
            stream.WaitingForWindow = false;
            _waitingForWindow.Remove(stream);
        }

        stream.ReleaseRequest();
        PromoteWaiting();
        return true;
    }

    private void WriteWindowUpdate(int streamId, int increment) => FrameWriter.WindowUpdate(Reserve(FrameWriter.WindowUpdateSize), streamId, increment);

    private void WriteRstStream(int streamId, Http2ErrorCode code) => FrameWriter.RstStream(Reserve(FrameWriter.RstStreamSize), streamId, code);

    /// <summary>Room for <paramref name="size"/> more outgoing bytes, counted as written. Under the lock.</summary>
    private Span<byte> Reserve(int size)
    {
        if (_outgoing.Length - _outgoingLength < size)
        {
            var bigger = new byte[Math.Max(_outgoing.Length * 2, _outgoingLength + size)];
            _outgoing.AsSpan(0, _outgoingLength).CopyTo(bigger);
            _outgoing = bigger;
        }

        var span = _outgoing.AsSpan(_outgoingLength, size);
        _outgoingLength += size;
        return span;
    }

    private void FlushUnlessReading()
    {
        // The reader loop flushes after each batch; anyone else must not wait for the next batch.
        if (_readerBatchThread != Environment.CurrentManagedThreadId)
        {
            TryStartFlush();
        }
    }

    /// <summary>
    /// Sends everything gathered, unless a flush is already running (it will pick the new bytes up). The send blocks
    /// only when the socket buffer is full, which on a load generator's small requests it practically never is;
    /// <see cref="SendTimeout"/> turns a peer that stops reading altogether into a failed connection.
    /// </summary>
    private void TryStartFlush()
    {
        lock (_lock)
        {
            if (_flushing || _outgoingLength == 0 || _failure is not null)
            {
                return;
            }

            _flushing = true;
        }

        try
        {
            while (true)
            {
                byte[] buffer;
                int length;
                lock (_lock)
                {
                    if (_outgoingLength == 0 || _failure is not null)
                    {
                        _flushing = false;
                        return;
                    }

                    buffer = _outgoing;
                    length = _outgoingLength;
                    _outgoing = _spare ?? new byte[buffer.Length];
                    _spare = null;
                    _outgoingLength = 0;
                }

                Send(buffer, length);
                lock (_lock)
                {
                    _spare = buffer;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            lock (_lock)
            {
                _flushing = false;
            }

            Shutdown(e, null);
        }
    }

    /// <summary>Writes all of buffer[0..length), through TLS when the connection has it (blocking).</summary>
    private void Send(byte[] buffer, int length)
    {
        if (_tls is not null)
        {
            _tls.Write(buffer, 0, length);
            return;
        }

        for (var sent = 0; sent < length;)
        {
            sent += _socket.Send(buffer, sent, length - sent, SocketFlags.None);
        }
    }

    /// <summary>Reads what has arrived into buffer[offset..offset+count), at least one byte; 0 when the peer closed (blocking).</summary>
    private int Receive(byte[] buffer, int offset, int count) =>
        _tls is not null ? _tls.Read(buffer, offset, count) : _socket.Receive(buffer, offset, count, SocketFlags.None);
}

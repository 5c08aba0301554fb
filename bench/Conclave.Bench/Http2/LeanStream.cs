using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// One gRPC call on an HTTP/2 stream: unary, or server streaming (one request, any number of responses). The request
/// half is written by the connection under its lock; the response half (headers, messages, trailers) is filled in by the
/// connection's reader loop only. Completes once, from whichever comes first: the trailers, a reset, the connection
/// failing, cancellation or the deadline.
/// </summary>
internal abstract class LeanStream : IHeaderSink
{
    /// <summary>grpc-dotnet's default limit on a received message.</summary>
    private const int MaxMessageSize = 4 * 1024 * 1024;

    private int _completed;
    private CancellationTokenRegistration _cancellation;
    private Timer? _deadline;
    private Status _status;
    private byte[]? _partial;
    private int _partialLength;

    /// <summary>The HPACK block of the request headers.</summary>
    public byte[] HeaderBlock { get; set; } = [];

    // Request half, under the connection's lock.
    public byte[]? Request { get; private set; }

    public int RequestLength { get; private set; }

    public int RequestSent { get; set; }

    /// <summary>Stream id, 0 until the HEADERS frame is written.</summary>
    public int Id { get; set; }

    public long SendWindow { get; set; }

    public bool WaitingForWindow { get; set; }

    /// <summary>The connection the call was handed to; null before that.</summary>
    public LeanGrpcConnection? Connection { get; set; }

    // Response half, reader loop only.
    public int HttpStatus { get; private set; }

    public int GrpcStatus { get; private set; } = -1;

    public string? GrpcMessage { get; private set; }

    public int ReceivedSinceWindowUpdate { get; set; }

    private string? FramingError { get; set; }

    private bool HasMessage { get; set; }

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    protected abstract Task Completion { get; }

    public void SetRequest(byte[] pooled, int length)
    {
        Request = pooled;
        RequestLength = length;
    }

    /// <summary>Returns the request buffer to the pool once it has been copied out, or will never be.</summary>
    public void ReleaseRequest()
    {
        if (Request is { } buffer)
        {
            Request = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Arms cancellation and the deadline; called before the stream is visible to any connection.</summary>
    public void Watch(CallOptions options, TimeSpan? timeout)
    {
        if (options.CancellationToken.CanBeCanceled)
        {
            _cancellation = options.CancellationToken.UnsafeRegister(static s => ((LeanStream)s!).Cancel(StatusCode.Cancelled, "Call canceled by the client."), this);
        }

        if (timeout is { } t)
        {
            _deadline = new Timer(static s => ((LeanStream)s!).Cancel(StatusCode.DeadlineExceeded, "Deadline Exceeded"), this, t < TimeSpan.Zero ? TimeSpan.Zero : t, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Fails the call with <paramref name="code"/> and tells its connection to reset the stream.</summary>
    public void Cancel(StatusCode code, string detail)
    {
        if (TryComplete(new Status(code, detail)))
        {
            Connection?.Abandon(this);
        }
    }

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.SequenceEqual(":status"u8))
        {
            HttpStatus = ParseInt(value);
        }
        else if (name.SequenceEqual("grpc-status"u8))
        {
            GrpcStatus = ParseInt(value);
        }
        else if (name.SequenceEqual("grpc-message"u8))
        {
            GrpcMessage = PercentDecode(value);
        }
    }

    /// <summary>
    /// Takes the content of a DATA frame: length-prefixed gRPC messages, any number of them in one frame and any of them
    /// over several frames. A unary call takes exactly one (<see cref="AcceptsMany"/>).
    /// </summary>
    public void OnData(ReadOnlyMemory<byte> content, ResponsePayload payload)
    {
        while (!content.IsEmpty && FramingError is null)
        {
            if (_partialLength == 0 && content.Length >= RequestSerializer.PrefixSize
                && BinaryPrimitives.ReadUInt32BigEndian(content.Span[1..]) is var whole && (ulong)content.Length >= RequestSerializer.PrefixSize + (ulong)whole)
            {
                // The usual case: the whole message in this frame, read straight from the receive buffer.
                OnMessage(content.Span[0], content.Slice(RequestSerializer.PrefixSize, (int)whole), payload);
                content = content[(RequestSerializer.PrefixSize + (int)whole)..];
                continue;
            }

            // A message over several frames: its prefix first, then as many bytes as it says.
            var total = _partialLength < RequestSerializer.PrefixSize ? RequestSerializer.PrefixSize : RequestSerializer.PrefixSize + PartialMessageLength;
            var take = Math.Min(total - _partialLength, content.Length);
            EnsurePartial(_partialLength + take);
            content.Span[..take].CopyTo(_partial.AsSpan(_partialLength));
            _partialLength += take;
            content = content[take..];
            if (_partialLength < RequestSerializer.PrefixSize)
            {
                continue;
            }

            var declared = BinaryPrimitives.ReadUInt32BigEndian(_partial.AsSpan(1));
            if (declared > MaxMessageSize)
            {
                FramingError = $"Received message exceeds the maximum configured message size ({declared} > {MaxMessageSize}).";
                return;
            }

            if (_partialLength == RequestSerializer.PrefixSize + (int)declared)
            {
                _partialLength = 0;
                OnMessage(_partial![0], _partial.AsMemory(RequestSerializer.PrefixSize, (int)declared), payload);
            }
        }
    }

    /// <summary>Called when the stream ends (END_STREAM): the outcome from the status, trailers and message.</summary>
    public Status Outcome()
    {
        if (FramingError is { } framing)
        {
            return new Status(StatusCode.Internal, framing);
        }

        if (_partialLength > 0)
        {
            return new Status(StatusCode.Internal, "The stream ended inside a message.");
        }

        if (HttpStatus != 200)
        {
            return new Status(FromHttpStatus(HttpStatus), $"Bad gRPC response. HTTP status code: {HttpStatus}");
        }

        if (GrpcStatus < 0)
        {
            return new Status(StatusCode.Cancelled, "No grpc-status found on response.");
        }

        if (GrpcStatus != 0)
        {
            return new Status((StatusCode)GrpcStatus, GrpcMessage ?? string.Empty);
        }

        return HasMessage || AcceptsMany ? Status.DefaultSuccess : new Status(StatusCode.Internal, "Failed to deserialize response message. The response has no message.");
    }

    /// <summary>Completes the call; false when it had already completed.</summary>
    public bool TryComplete(Status status)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        _cancellation.Unregister();
        _deadline?.Dispose();
        _status = status;
        if (status.StatusCode == StatusCode.OK)
        {
            SetResult();
        }
        else
        {
            SetException(new RpcException(status));
        }

        return true;
    }

    public Status GetStatus() => IsCompleted ? _status : throw new InvalidOperationException("Unable to get the status because the call is not complete.");

    public Metadata GetTrailers() => IsCompleted ? [] : throw new InvalidOperationException("Can't get the call trailers because the call has not completed successfully.");

    /// <summary>Response headers are not kept: an empty set once the call has completed.</summary>
    public async Task<Metadata> ResponseHeadersAsync()
    {
        try
        {
            await Completion.ConfigureAwait(false);
        }
        catch (RpcException)
        {
        }

        return [];
    }

    /// <summary>Whether the response may hold any number of messages (a server-streaming call) rather than exactly one.</summary>
    protected virtual bool AcceptsMany => false;

    protected abstract void Deserialize(DeserializationContext context);

    protected abstract void SetResult();

    protected abstract void SetException(RpcException exception);

    private int PartialMessageLength => (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(_partial.AsSpan(1)), MaxMessageSize);

    private void EnsurePartial(int needed)
    {
        if (_partial is null || _partial.Length < needed)
        {
            var bigger = new byte[Math.Max(Math.Max(needed, 256), (_partial?.Length ?? 0) * 2)];
            _partial.AsSpan(0, _partialLength).CopyTo(bigger);
            _partial = bigger;
        }
    }

    private void OnMessage(byte compressed, ReadOnlyMemory<byte> message, ResponsePayload payload)
    {
        if (HasMessage && !AcceptsMany)
        {
            FramingError = "More than one response message for a unary call.";
            return;
        }

        Deserialize(compressed, message, payload);
    }

    private void Deserialize(byte compressed, ReadOnlyMemory<byte> message, ResponsePayload payload)
    {
        if (compressed != 0)
        {
            FramingError = "Compressed response message without a grpc-encoding this client asked for.";
            return;
        }

        try
        {
            payload.Set(message);
            Deserialize(payload);
            HasMessage = true;
        }
        catch (InvalidProtocolBufferException e)
        {
            FramingError = $"Failed to deserialize response message: {e.Message}";
        }
        finally
        {
            payload.Set(default);
        }
    }

    private static int ParseInt(ReadOnlySpan<byte> digits)
    {
        var value = 0;
        foreach (var d in digits)
        {
            if (d is < (byte)'0' or > (byte)'9' || value > 100_000_000)
            {
                return -2;
            }

            value = (value * 10) + (d - '0');
        }

        return digits.IsEmpty ? -2 : value;
    }

    /// <summary>grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").</summary>
    private static string PercentDecode(ReadOnlySpan<byte> value)
    {
        if (value.IndexOf((byte)'%') < 0)
        {
            return Encoding.UTF8.GetString(value);
        }

        var bytes = new byte[value.Length];
        var n = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length && Uri.IsHexDigit((char)value[i + 1]) && Uri.IsHexDigit((char)value[i + 2]))
            {
                bytes[n++] = (byte)((Uri.FromHex((char)value[i + 1]) << 4) | Uri.FromHex((char)value[i + 2]));
                i += 2;
            }
            else
            {
                bytes[n++] = value[i];
            }
        }

        return Encoding.UTF8.GetString(bytes, 0, n);
    }

    /// <summary>The gRPC status for a non-200 HTTP status (the mapping gRPC clients share).</summary>
    private static StatusCode FromHttpStatus(int status) => status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}

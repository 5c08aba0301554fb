using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.Client.Internal;

/// <summary>
/// One consumer's watch: what to watch, where to resume, and the bounded buffer between the shared stream and
/// the consumer. Survives reconnects; gets a new server watch ID on every stream.
/// </summary>
internal sealed class WatchRegistration : IDisposable
{
    private readonly Channel<WatchBatch> _buffer;
    private readonly CancellationTokenSource _lifetime;

    // Cached: the source is disposed on unregister while the stream reader may still be delivering.
    private readonly CancellationToken _closedToken;
    private long _nextRevision;

    public WatchRegistration(ByteString key, ByteString rangeEnd, WatchOptions options, int capacity, CancellationToken clientStopping)
    {
        Key = key;
        RangeEnd = rangeEnd;
        Options = options;
        _nextRevision = options.StartRevision;
        // Wait: when the consumer is behind, the stream reader blocks here and HTTP/2 flow control pushes back to
        // the server, which holds the events. Nothing is dropped and memory stays bounded.
        _buffer = Channel.CreateBounded<WatchBatch>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(clientStopping);
        _closedToken = _lifetime.Token;
    }

    public ByteString Key { get; }

    public ByteString RangeEnd { get; }

    public WatchOptions Options { get; }

    /// <summary>Server watch ID on the current stream; -1 when not (yet) created there. Guarded by the multiplexer's lock.</summary>
    public long WatchId { get; set; } = -1;

    /// <summary>
    /// First revision not yet handed to the buffer: where a re-created watch resumes. Zero until the first
    /// stream has created a watch that started at "now".
    /// </summary>
    public long NextRevision
    {
        get => Volatile.Read(ref _nextRevision);
        set => Volatile.Write(ref _nextRevision, value);
    }

    public bool IsClosed => _closedToken.IsCancellationRequested;

    public WatchCreateRequest ToCreateRequest() => Requests.WatchCreate(Key, RangeEnd, Options, NextRevision);

    /// <summary>Hands a batch to the consumer, waiting while its buffer is full. False when the consumer is gone.</summary>
    public async ValueTask<bool> DeliverAsync(WatchBatch batch)
    {
        if (_buffer.Writer.TryWrite(batch))
        {
            return true;
        }

        try
        {
            await _buffer.Writer.WriteAsync(batch, _closedToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (ChannelClosedException)
        {
            return false;
        }
    }

    /// <summary>Ends the consumer's enumeration with <paramref name="error"/> once it has read what is buffered.</summary>
    public void Fail(Exception error) => _buffer.Writer.TryComplete(error);

    /// <summary>The consumer stopped reading: abort a pending delivery.</summary>
    public void Close()
    {
        _buffer.Writer.TryComplete();
        _lifetime.Cancel();
    }

    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _buffer.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }

    public bool TryRead(out WatchBatch batch) => _buffer.Reader.TryRead(out batch!);

    public void Dispose() => _lifetime.Dispose();
}

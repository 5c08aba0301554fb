using System.Threading.Channels;
using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>
/// A server-streaming <see cref="LeanStream"/>: each response message is read by <see cref="MoveNext"/> in the order it
/// came; the stream's status ends the reading (an error status is thrown as an <see cref="RpcException"/>, as
/// grpc-dotnet does).
/// </summary>
/// <remarks>
/// As with unary calls, the reader's continuation runs inline on the connection's reader loop when it was waiting, so
/// a subscriber handling a message costs no thread hop; readers must not block.
/// </remarks>
internal sealed class LeanServerStreamingCall<TResponse>(Func<DeserializationContext, TResponse> deserializer) : LeanStream, IAsyncStreamReader<TResponse>
    where TResponse : class
{
    private readonly Channel<TResponse> _messages = Channel.CreateUnbounded<TResponse>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });

    private readonly TaskCompletionSource _completion = new();

    public TResponse Current { get; private set; } = null!;

    protected override Task Completion => _completion.Task;

    protected override bool AcceptsMany => true;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (_messages.Reader.TryRead(out var next))
        {
            Current = next;
            return true;
        }

        // Cancelling the read cancels the call, as with grpc-dotnet.
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((LeanStream)s!).Cancel(StatusCode.Cancelled, "Call canceled by the client."), this)
            : default;
        while (await _messages.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (_messages.Reader.TryRead(out next))
            {
                Current = next;
                return true;
            }
        }

        return false;
    }

    protected override void Deserialize(DeserializationContext context) => _messages.Writer.TryWrite(deserializer(context));

    protected override void SetResult()
    {
        _messages.Writer.TryComplete();
        _completion.TrySetResult();
    }

    protected override void SetException(RpcException exception)
    {
        _messages.Writer.TryComplete(exception);
        _completion.TrySetException(exception);
        _ = _completion.Task.Exception; // observed: a stream read to its error needs nobody to await this
    }
}

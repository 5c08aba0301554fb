using Grpc.Core;

namespace Conclave.Bench.Http2;

/// <summary>A <see cref="LeanStream"/> whose response is a <typeparamref name="TResponse"/>.</summary>
/// <remarks>
/// The task's continuations run inline on the thread that completes it, usually the connection's reader loop: a
/// bench worker then issues its next request from there, and the reader sends all such requests in one write at
/// the end of each received batch. That is what makes the client cheap; callers must not block in continuations.
/// </remarks>
internal sealed class LeanUnaryCall<TResponse>(Func<DeserializationContext, TResponse> deserializer) : LeanStream
    where TResponse : class
{
    private readonly TaskCompletionSource<TResponse> _completion = new();
    private TResponse? _response;

    public Task<TResponse> Task => _completion.Task;

    protected override Task Completion => _completion.Task;

    protected override void Deserialize(DeserializationContext context) => _response = deserializer(context);

    protected override void SetResult() => _completion.SetResult(_response!);

    protected override void SetException(RpcException exception) => _completion.SetException(exception);
}

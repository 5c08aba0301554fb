using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Grpc;

/// <summary>
/// Applies <see cref="ErrorMapping"/> to every gRPC call (and to the JSON gateway): expected failures become etcd's
/// status and text; an unexpected one is logged here, once, with its stack trace, and reaches the caller only as
/// <see cref="ErrorMapping.InternalErrorMessage"/>.
/// </summary>
internal sealed partial class ErrorMappingInterceptor(ServerMetrics metrics, TimeProvider clock, ILogger<ErrorMappingInterceptor> logger) : Interceptor
{
    private static string MethodName(ServerCallContext context)
    {
        var m = context.Method;
        var slash = m.LastIndexOf('/');
        return slash >= 0 ? m[(slash + 1)..] : m;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = clock.GetTimestamp();
        Task<TResponse> call;
        try
        {
            call = continuation(request, context);
        }
        catch (Exception e)
        {
            call = Task.FromException<TResponse>(e);
        }

        return ObserveAsync(started, MethodName(context), call, context);
    }

    /// <summary>Maps <paramref name="e"/> for the caller, logging it first if nobody anticipated it.</summary>
    public RpcException Map(Exception e, string method, CancellationToken callCancelled)
    {
        if (ErrorMapping.IsUnexpected(e))
        {
            Log.Unexpected(logger, e, method);
        }

        return ErrorMapping.ToRpc(e, callCancelled);
    }

    /// <summary>
    /// Awaits a unary call, turns its failure into etcd's status and message, and records the call in the request
    /// metrics. Used by this interceptor and by <see cref="KvService"/>, which calls it directly (the hot path).
    /// </summary>
    public async Task<TResponse> ObserveAsync<TResponse>(long started, string method, Task<TResponse> call, ServerCallContext context)
    {
        var code = "OK";
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var rpc = Map(e, method, context.CancellationToken);
            code = rpc.StatusCode.ToString();
            throw rpc;
        }
        finally
        {
            metrics.RequestHandled(method, code, clock.GetElapsedTime(started).TotalSeconds);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, MethodName(context), context.CancellationToken);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw Map(e, MethodName(context), context.CancellationToken);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3300, Level = LogLevel.Error, Message = "Unexpected failure serving {Method}; the caller was told only that an internal error occurred")]
        public static partial void Unexpected(ILogger logger, Exception exception, string method);
    }
}

using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Conclave.Server.Grpc;

/// <summary>Applies <see cref="ErrorMapping"/> to every gRPC call.</summary>
internal sealed class ErrorMappingInterceptor(ServerMetrics metrics) : Interceptor
{
    private static string MethodName(ServerCallContext context)
    {
        var m = context.Method;
        var slash = m.LastIndexOf('/');
        return slash >= 0 ? m[(slash + 1)..] : m;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        Task<TResponse> call;
        try
        {
            call = continuation(request, context);
        }
        catch (Exception e)
        {
            call = Task.FromException<TResponse>(e);
        }

        return ObserveAsync(started, MethodName(context), call, context, metrics);
    }

    /// <summary>
    /// Awaits a unary call, turns its failure into etcd's status and message, and records the call in the request
    /// metrics. Used by this interceptor and by <see cref="KvService"/>, which calls it directly (the hot path).
    /// </summary>
    public static async Task<TResponse> ObserveAsync<TResponse>(long started, string method, Task<TResponse> call, ServerCallContext context, ServerMetrics metrics)
    {
        var code = "OK";
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var rpc = ErrorMapping.ToRpc(e, context.CancellationToken);
            code = rpc.StatusCode.ToString();
            throw rpc;
        }
        finally
        {
            metrics.RequestHandled(method, code, Stopwatch.GetElapsedTime(started).TotalSeconds);
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
            throw ErrorMapping.ToRpc(e, context.CancellationToken);
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
            throw ErrorMapping.ToRpc(e, context.CancellationToken);
        }
    }
}

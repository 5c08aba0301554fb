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

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var code = "OK";
        try
        {
            return await continuation(request, context);
        }
        catch (Exception e)
        {
            var rpc = ErrorMapping.ToRpc(e, context.CancellationToken);
            code = rpc.StatusCode.ToString();
            throw rpc;
        }
        finally
        {
            metrics.RequestHandled(MethodName(context), code, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
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

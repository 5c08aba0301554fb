using Grpc.AspNetCore.Server.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Grpc;

/// <summary>
/// The gRPC edge's plumbing: error mapping, and service binding that answers undecodable requests itself
/// (<see cref="MalformedRequests"/>). Registered after <c>AddGrpc</c>, whose binder it replaces.
/// </summary>
internal static class GrpcEdge
{
    /// <summary>The category Grpc.AspNetCore logs failed calls under (an Error with a stack trace for each).</summary>
    internal const string CallHandlerLogCategory = "Grpc.AspNetCore.Server.ServerCallHandler";

    public static IServiceCollection AddGrpcEdge(this IServiceCollection services)
    {
        services.AddSingleton<ErrorMappingInterceptor>();
        services.AddSingleton<MalformedRequests>();
        services.AddSingleton<SnapshotSends>();
        services.AddSingleton<LargeResponses>();
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.AddSingleton(typeof(IServiceMethodProvider<>), typeof(GuardedServiceMethodProvider<>));
        // Every failure a call can end with is logged, or deliberately not, by this edge: by ErrorMappingInterceptor
        // (unexpected ones, once) and MalformedRequests (one Debug line). Grpc.AspNetCore would add an Error with a
        // stack trace for every request that fails to decode and every response a departed client did not take.
        services.Configure<LoggerFilterOptions>(o => o.AddFilter(CallHandlerLogCategory, LogLevel.None));
        return services;
    }
}

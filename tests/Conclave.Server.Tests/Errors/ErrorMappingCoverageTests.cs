using Conclave.Server.Grpc;
using Conclave.Server.Tests.Fixtures;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Conclave.Server.Tests.Errors;

/// <summary>
/// Every gRPC service maps its errors to etcd's codes and records request metrics: <see cref="KvService"/> itself
/// (the hot path), every other one through <see cref="ErrorMappingInterceptor"/>. A service mapped without either
/// would answer with gRPC's generic "Exception was thrown by handler" and no etcd error code.
/// </summary>
public sealed class ErrorMappingCoverageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_mapped_grpc_service_but_kv_carries_the_error_mapping_interceptor()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var services = node.Server.Services;
        var mapped = services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.ServiceType)
            .OfType<Type>()
            .Distinct()
            .ToList();
        Assert.Contains(typeof(KvService), mapped);
        Assert.True(mapped.Count >= 8, $"{mapped.Count} services mapped");

        foreach (var service in mapped.Where(t => t != typeof(KvService)))
        {
            var optionsType = typeof(IOptions<>).MakeGenericType(typeof(GrpcServiceOptions<>).MakeGenericType(service));
            var options = (GrpcServiceOptions)optionsType.GetProperty(nameof(IOptions<object>.Value))!.GetValue(services.GetRequiredService(optionsType))!;
            Assert.True(
                options.Interceptors.Any(i => i.Type == typeof(ErrorMappingInterceptor)),
                $"{service.Name} has no ErrorMappingInterceptor");
        }
    }
}

using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// Binds each gRPC service's methods as Grpc.AspNetCore's own binder does (the generated <c>BindService</c>, found
/// through its <see cref="BindServiceMethodAttribute"/>), except that each request marshaller is wrapped by
/// <see cref="MalformedRequests"/>: a request that fails to decode never reaches the handler, the interceptors or
/// gRPC's error logging, which would log a stack trace for each.
/// </summary>
internal sealed class GuardedServiceMethodProvider<[DynamicallyAccessedMembers(ServiceAccessibility)] TService>(MalformedRequests malformed)
    : IServiceMethodProvider<TService>
    where TService : class
{
    internal const DynamicallyAccessedMemberTypes ServiceAccessibility =
        DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.PublicMethods | DynamicallyAccessedMemberTypes.NonPublicMethods;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        for (var type = typeof(TService); type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>(inherit: false) is { } attribute)
            {
                var bind = attribute.BindType.GetMethod(attribute.BindMethodName, BindingFlags.Public | BindingFlags.Static, [typeof(ServiceBinderBase), type])
                    ?? throw new InvalidOperationException($"{attribute.BindType}.{attribute.BindMethodName} was not found for gRPC service {typeof(TService)}");
                bind.Invoke(null, [new GuardedServiceBinder<TService>(context, type, malformed), null]);
                return;
            }
        }
    }
}

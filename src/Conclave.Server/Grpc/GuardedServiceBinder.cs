using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace Conclave.Server.Grpc;

/// <summary>
/// Receives a generated service's methods (its <c>BindService</c> called without an instance) and registers each
/// with a guarded request marshaller and an invoker for <typeparamref name="TService"/>'s override of the method.
/// </summary>
internal sealed class GuardedServiceBinder<[DynamicallyAccessedMembers(GuardedServiceMethodProvider<object>.ServiceAccessibility)] TService>(
    ServiceMethodProviderContext<TService> context, Type declaringType, MalformedRequests malformed) : ServiceBinderBase
    where TService : class
{
    private static readonly object[] Metadata = [new HttpMethodMetadata(["POST"], acceptCorsPreflight: true)];

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
        context.AddUnaryMethod(Guard(method), Metadata, Invoker<UnaryServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(ServerCallContext)));

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddClientStreamingMethod(Guard(method), Metadata, Invoker<ClientStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(ServerCallContext)));

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddServerStreamingMethod(Guard(method), Metadata, Invoker<ServerStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(TRequest), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));

    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
        context.AddDuplexStreamingMethod(Guard(method), Metadata, Invoker<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(method.Name, typeof(IAsyncStreamReader<TRequest>), typeof(IServerStreamWriter<TResponse>), typeof(ServerCallContext)));

    private Method<TRequest, TResponse> Guard<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class =>
        new(method.Type, method.ServiceName, method.Name, malformed.Guard(method.RequestMarshaller, method.Name), method.ResponseMarshaller);

    /// <summary>An open-instance delegate to <typeparamref name="TService"/>'s override of the generated base method.</summary>
    private TDelegate Invoker<TDelegate>(string name, params Type[] parameters)
        where TDelegate : Delegate
    {
        for (var type = typeof(TService); type is not null; type = type.BaseType)
        {
            var candidate = type.GetMethod(name, BindingFlags.Public | BindingFlags.Instance, parameters);
            if (candidate is null)
            {
                break;
            }

            // Only an override of the generated method serves the call; a method that hides it does not.
            if (candidate.IsVirtual && candidate.GetBaseDefinition().DeclaringType == declaringType)
            {
                return (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), candidate);
            }
        }

        throw new InvalidOperationException($"gRPC service {typeof(TService)} does not implement {name}");
    }
}

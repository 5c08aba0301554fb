using Conclave.Api.Config.V1;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Conclave.Server.Config;

/// <summary>
/// Binds <c>conclave.config.v1.ConfigService</c> to <see cref="ConfigGrpcService"/> by hand instead of through the
/// generated base class, for one reason: Subscribe's responses are <see cref="EncodedRelease"/>s, whose marshaller
/// writes bytes serialized once and shared by every stream. On the wire nothing changes (the same Release messages);
/// the other methods use ordinary protobuf marshallers.
/// </summary>
internal sealed class ConfigServiceMethods : IServiceMethodProvider<ConfigGrpcService>
{
    private const string Service = "conclave.config.v1.ConfigService";

    private static readonly Marshaller<EncodedRelease> Encoded = Marshallers.Create<EncodedRelease>(
        (message, context) => context.Complete(message.Bytes),
        context => new EncodedRelease(context.PayloadAsNewBuffer()));

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<ConfigGrpcService> context)
    {
        context.AddUnaryMethod(Unary("Fetch", FetchRequest.Parser, FetchResponse.Parser), [], (s, r, c) => s.FetchAsync(r, c));
        context.AddServerStreamingMethod(
            new Method<SubscribeRequest, EncodedRelease>(MethodType.ServerStreaming, Service, "Subscribe", Proto(SubscribeRequest.Parser), Encoded),
            [], (s, r, stream, c) => s.SubscribeAsync(r, stream, c));
        context.AddUnaryMethod(Unary("Report", ReportRequest.Parser, ReportResponse.Parser), [], (s, r, c) => s.ReportAsync(r, c));
        context.AddUnaryMethod(Unary("GetConvergence", ConvergenceRequest.Parser, ConvergenceResponse.Parser), [], (s, r, c) => s.GetConvergenceAsync(r, c));
    }

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(MethodType.Unary, Service, name, Proto(request), Proto(response));

    private static Marshaller<T> Proto<T>(MessageParser<T> parser)
        where T : class, IMessage<T> =>
        Marshallers.Create<T>(
            (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context => parser.ParseFrom(context.PayloadAsReadOnlySequence()));
}

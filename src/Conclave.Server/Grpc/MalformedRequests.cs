using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Storage;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Grpc;

/// <summary>
/// Answers requests whose bytes are not the message they claim to be. Such a request is the client's fault, so it
/// costs one Debug line and a count in <c>conclave_grpc_malformed_requests_total</c>, never a stack trace: a client
/// sending garbage must not be able to fill the member's log. The caller gets gRPC's own answer to an undecodable
/// request (<c>INTERNAL</c>, "grpc: error unmarshalling request: ..."), as etcd's Go server sends it.
/// </summary>
internal sealed partial class MalformedRequests(ServerMetrics metrics, ILogger<MalformedRequests> logger)
{
    /// <summary>Wraps <paramref name="marshaller"/> so that a request that does not decode is answered here.</summary>
    public Marshaller<T> Guard<T>(Marshaller<T> marshaller, string method)
        where T : class
    {
        var deserialize = marshaller.ContextualDeserializer;
        return new Marshaller<T>(marshaller.ContextualSerializer, context =>
        {
            try
            {
                return deserialize(context);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw Refuse(method, typeof(T), e);
            }
        });
    }

    /// <summary>Counts and logs a malformed request, and returns the error that answers it.</summary>
    public RpcException Refuse(string method, Type messageType, Exception e)
    {
        if (messageType == typeof(TxnRequest) && IsTooDeep(e))
        {
            // The only nesting a TxnRequest has is txns inside txns: this is a txn nested beyond any limit we accept.
            return ErrorMapping.Create(
                ErrorCode.TooManyOps,
                $"txn: nested more than {RequestValidator.MaxTxnDepth} levels deep; the limit is {RequestValidator.MaxTxnDepth} levels");
        }

        metrics.MalformedRequest(method);
        Log.Malformed(logger, method, e.Message);
        return new RpcException(new Status(StatusCode.Internal, "grpc: error unmarshalling request: " + ErrorMapping.Sanitize(e.Message)));
    }

    /// <summary>Protobuf's recursion limit (binary and JSON parsers): the one failure that means depth, not damage.</summary>
    internal static bool IsTooDeep(Exception e) => e.Message.Contains("levels of nesting", StringComparison.Ordinal);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "Malformed {Method} request refused: {Reason}")]
        public static partial void Malformed(ILogger logger, string method, string reason);
    }
}

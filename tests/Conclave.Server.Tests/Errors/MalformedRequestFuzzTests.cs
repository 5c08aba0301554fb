using System.Buffers;
using Conclave.Api.Etcd;
using Conclave.Server.Grpc;
using Conclave.Server.Tests.Fixtures;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Conclave.Server.Tests.Errors;

/// <summary>
/// The guarded request marshaller over random and mutated bytes: every input either decodes or is answered with an
/// <see cref="RpcException"/> (INTERNAL, or etcd's too-many-operations for an over-deep txn); nothing else escapes
/// to gRPC, which would log it and answer UNKNOWN.
/// </summary>
public sealed class MalformedRequestFuzzTests
{
    [Fact]
    public void Random_and_mutated_requests_decode_or_are_refused_with_an_rpc_error()
    {
        using var metrics = new ServerMetrics();
        var malformed = new MalformedRequests(metrics, NullLogger<MalformedRequests>.Instance);
        var txn = malformed.Guard(Marshallers.Create(static (TxnRequest m) => m.ToByteArray(), TxnRequest.Parser.ParseFrom), "Txn");
        var watch = malformed.Guard(Marshallers.Create(static (WatchRequest m) => m.ToByteArray(), WatchRequest.Parser.ParseFrom), "Watch");
        var report = malformed.Guard(Marshallers.Create(static (Api.Config.V1.ReportRequest m) => m.ToByteArray(), Api.Config.V1.ReportRequest.Parser.ParseFrom), "Report");
        var seeds = new[]
        {
            NestedTxnTests.Deep(40, "fuzz").ToByteArray(),
            NestedTxnTests.Deep(3, "fuzz").ToByteArray(),
            new Api.Config.V1.ReportRequest { App = "shop", Env = "PRO", Namespace = "application", Instance = new Api.Config.V1.InstanceIdentity { InstanceId = "pod-ä", Labels = { "zone=a" } }, Reason = "naïve" }.ToByteArray(),
            new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("k"), RangeEnd = ByteString.CopyFromUtf8("l"), Filters = { WatchCreateRequest.Types.FilterType.Noput } } }.ToByteArray(),
        };
        var random = new Random(18);
        var (decoded, refused) = (0, 0);

        for (var i = 0; i < 5000; i++)
        {
            byte[] input;
            if (i % 4 == 0)
            {
                input = new byte[random.Next(0, 64)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])seeds[random.Next(seeds.Length)].Clone();
                for (var flips = random.Next(1, 4); flips > 0 && input.Length > 0; flips--)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }

                if (random.Next(3) == 0)
                {
                    input = input[..random.Next(input.Length + 1)];
                }
            }

            foreach (var deserialize in new Func<DeserializationContext, object>[] { txn.ContextualDeserializer, watch.ContextualDeserializer, report.ContextualDeserializer })
            {
                try
                {
                    _ = deserialize(new BytesContext(input));
                    decoded++;
                }
                catch (RpcException e)
                {
                    Assert.Contains(e.StatusCode, new[] { StatusCode.Internal, StatusCode.InvalidArgument });
                    refused++;
                }
            }
        }

        Assert.True(decoded > 0 && refused > 0, $"{decoded} decoded, {refused} refused");
    }

    private sealed class BytesContext(byte[] payload) : DeserializationContext
    {
        public override int PayloadLength => payload.Length;

        public override byte[] PayloadAsNewBuffer() => (byte[])payload.Clone();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
    }
}

using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Config;

/// <summary>
/// Keeps plain KV writes out of the configuration center's reserved prefix (DESIGN.md decision 7): those
/// records change only through the center, which keeps releases, history and audit consistent. Reads stay allowed.
/// </summary>
public static class ReservedPrefixGuard
{
    /// <summary>Reserved prefixes and who owns them (the configuration center; the cluster's learner records).</summary>
    private static readonly (ByteString Start, ByteString End, string Owner)[] Reserved =
    [
        Range(ConfigKeys.ReservedPrefix, "the configuration center: change them through its API (conclave config ..., /api/v1)"),
        Range(Node.MemberRecords.ReservedPrefix, "the cluster's membership: change them with member add / remove / promote"),
    ];

    private static (ByteString, ByteString, string) Range(string prefix, string owner)
    {
        var start = ByteString.CopyFromUtf8(prefix);
        return (start, ConfigKeys.PrefixEnd(start), owner);
    }

    public static void CheckPut(PutRequest r) => Check(r.Key, ByteString.Empty);

    public static void CheckDelete(DeleteRangeRequest r) => Check(r.Key, r.RangeEnd);

    public static void CheckTxn(TxnRequest r)
    {
        foreach (var op in r.Success.Concat(r.Failure))
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestPut:
                    CheckPut(op.RequestPut);
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    CheckDelete(op.RequestDeleteRange);
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    CheckTxn(op.RequestTxn);
                    break;
            }
        }
    }

    private static void Check(ByteString key, ByteString rangeEnd)
    {
        foreach (var (start, end, owner) in Reserved)
        {
            bool touches;
            if (rangeEnd.IsEmpty)
            {
                touches = key.Span.StartsWith(start.Span);
            }
            else
            {
                // [key, rangeEnd) meets [start, end): key < end and (rangeEnd is "\0" = to the end, or rangeEnd > start).
                var toEnd = rangeEnd.Length == 1 && rangeEnd[0] == 0;
                touches = key.Span.SequenceCompareTo(end.Span) < 0 && (toEnd || rangeEnd.Span.SequenceCompareTo(start.Span) > 0);
            }

            if (touches)
            {
                var trailers = new Metadata
                {
                    { ErrorCatalogue.CodeTrailer, "PermissionDenied" },
                    { ErrorCatalogue.DetailTrailer, $"keys under {start.ToStringUtf8()} belong to {owner}, not plain KV writes" },
                };
                throw new RpcException(new Status(StatusCode.PermissionDenied, "etcdserver: permission denied"), trailers);
            }
        }
    }
}

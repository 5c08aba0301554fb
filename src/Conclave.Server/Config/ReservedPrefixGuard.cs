using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.ConfigCenter.Keyspace;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Config;

/// <summary>
/// Keeps client writes out of the reserved prefixes (DESIGN.md decision 7): the configuration center's records
/// change only through the center, which keeps releases, history and audit consistent, and the cluster's records
/// only through membership changes. Every client write path checks here before anything is proposed (KV and the
/// JSON gateway through <see cref="Grpc.KvFrontend"/>, lock and election keys, lease revokes); the server's own
/// writers (the center's port, membership) do not. Reads stay allowed.
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

    /// <summary>Refuses a write of the single key <paramref name="key"/> when it is reserved.</summary>
    public static void CheckKey(ByteString key) => Check(key, ByteString.Empty);

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

    /// <summary>
    /// Refuses to revoke a lease that holds reserved keys: revoking deletes them, and only the server attaches a
    /// lease to a reserved key (a delivery record's lease; puts under the prefixes are refused), so such a lease
    /// ends by expiry, not by a client's revoke.
    /// </summary>
    public static void CheckRevoke(long leaseId, IEnumerable<ByteString> keys)
    {
        foreach (var key in keys)
        {
            foreach (var (start, _, owner) in Reserved)
            {
                if (key.Span.StartsWith(start.Span))
                {
                    throw Denied($"lease {leaseId:x} holds {key.ToStringUtf8()}, which belongs to {owner}; it ends when its owner stops renewing it, not by a revoke");
                }
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
                throw Denied($"keys under {start.ToStringUtf8()} belong to {owner}, not client writes");
            }
        }
    }

    private static RpcException Denied(string detail)
    {
        var trailers = new Metadata
        {
            { ErrorCatalogue.CodeTrailer, "PermissionDenied" },
            { ErrorCatalogue.DetailTrailer, Grpc.ErrorMapping.Sanitize(detail) },
        };
        return new RpcException(new Status(StatusCode.PermissionDenied, "etcdserver: permission denied"), trailers);
    }
}

using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage;

/// <summary>
/// Checks requests before they are proposed, as etcd's server does: problems are reported to the caller with
/// etcd's error and a message naming the field and the limit, and never reach the log.
/// </summary>
public static class RequestValidator
{
    public static void ValidateRange(RangeRequest r)
    {
        if (r.Key.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "range: 'key' is empty (use \"\\0\" with range_end \"\\0\" to read every key)");
        }
    }

    public static void ValidatePut(PutRequest r)
    {
        if (r.Key.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "put: 'key' is empty");
        }

        if (r.IgnoreValue && !r.Value.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.ValueProvided, "put: 'value' must be empty when 'ignore_value' is set");
        }

        if (r.IgnoreLease && r.Lease != 0)
        {
            throw new ConclaveErrorException(ErrorCode.LeaseProvided, "put: 'lease' must be 0 when 'ignore_lease' is set");
        }
    }

    public static void ValidateDelete(DeleteRangeRequest r)
    {
        if (r.Key.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "delete: 'key' is empty");
        }
    }

    /// <summary>
    /// The deepest nesting of txns accepted (the outermost txn is level 1). etcd 3.4 has no fixed depth: its
    /// operation budget (<c>--max-txn-ops</c>, shrinking with each level) stops a one-operation chain after 128 levels.
    /// Here every txn must also decode from the log on every member, where each level is two protobuf messages inside
    /// two of the log's own, under protobuf's recursion limit of 100: 32 levels (66 messages deep) keeps a wide margin
    /// and leaves the recursive checks, apply and response building far from any stack limit.
    /// </summary>
    public const int MaxTxnDepth = 32;

    public static void ValidateTxn(TxnRequest r, int maxOps) => ValidateTxn(r, maxOps, 1);

    private static void ValidateTxn(TxnRequest r, int maxOps, int depth)
    {
        if (depth > MaxTxnDepth)
        {
            throw new ConclaveErrorException(ErrorCode.TooManyOps, $"txn: nested more than {MaxTxnDepth} levels deep; the limit is {MaxTxnDepth} levels");
        }

        var ops = Math.Max(r.Compare.Count, Math.Max(r.Success.Count, r.Failure.Count));
        if (ops > maxOps)
        {
            // As etcd: a nested txn may use only what its enclosing txns left of the budget.
            var budget = depth == 1 ? "(--max-txn-ops)" : $"at nesting level {depth} (--max-txn-ops less the operations of the enclosing txns)";
            throw new ConclaveErrorException(
                ErrorCode.TooManyOps,
                $"txn: {r.Compare.Count} compares, {r.Success.Count} success and {r.Failure.Count} failure operations; the limit is {Math.Max(maxOps, 0)} each {budget}");
        }

        foreach (var c in r.Compare)
        {
            if (c.Key.IsEmpty)
            {
                throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "txn: a compare has an empty 'key'");
            }

            if (c.TargetUnionCase == Compare.TargetUnionOneofCase.None)
            {
                throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"txn: compare on key '{c.Key.ToStringUtf8()}' has no target value");
            }
        }

        ValidateOps(r.Success, maxOps - ops, depth);
        ValidateOps(r.Failure, maxOps - ops, depth);
        CheckDuplicates(r.Success);
        CheckDuplicates(r.Failure);
    }

    private static void ValidateOps(IEnumerable<RequestOp> ops, int maxOps, int depth)
    {
        foreach (var op in ops)
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange: ValidateRange(op.RequestRange); break;
                case RequestOp.RequestOneofCase.RequestPut: ValidatePut(op.RequestPut); break;
                case RequestOp.RequestOneofCase.RequestDeleteRange: ValidateDelete(op.RequestDeleteRange); break;
                case RequestOp.RequestOneofCase.RequestTxn: ValidateTxn(op.RequestTxn, maxOps, depth + 1); break;
                default: throw new ConclaveErrorException(ErrorCode.InvalidArgument, "txn: an operation has no request set");
            }
        }
    }

    /// <summary>etcd rejects a branch that writes the same key twice (puts, or a put inside a deleted range).</summary>
    private static void CheckDuplicates(IEnumerable<RequestOp> ops)
    {
        var puts = new HashSet<ByteString>();
        var deletes = new List<(ByteString Key, ByteString End)>();
        Collect(ops, puts, deletes);
        foreach (var key in puts)
        {
            foreach (var (start, end) in deletes)
            {
                if (KeyOrder.InRange(key, start, end))
                {
                    throw new ConclaveErrorException(ErrorCode.DuplicateKey, $"txn: key '{key.ToStringUtf8()}' is both put and deleted in one branch");
                }
            }
        }

        static void Collect(IEnumerable<RequestOp> ops, HashSet<ByteString> puts, List<(ByteString, ByteString)> deletes)
        {
            foreach (var op in ops)
            {
                switch (op.RequestCase)
                {
                    case RequestOp.RequestOneofCase.RequestPut:
                        if (!puts.Add(op.RequestPut.Key))
                        {
                            throw new ConclaveErrorException(ErrorCode.DuplicateKey, $"txn: key '{op.RequestPut.Key.ToStringUtf8()}' is put twice in one branch");
                        }

                        break;
                    case RequestOp.RequestOneofCase.RequestDeleteRange:
                        deletes.Add((op.RequestDeleteRange.Key, op.RequestDeleteRange.RangeEnd));
                        break;
                    case RequestOp.RequestOneofCase.RequestTxn:
                        // Only one branch of a nested txn runs: each is checked against the outer writes.
                        var nestedPutsS = new HashSet<ByteString>(puts);
                        var nestedDelS = new List<(ByteString, ByteString)>(deletes);
                        Collect(op.RequestTxn.Success, nestedPutsS, nestedDelS);
                        var nestedPutsF = new HashSet<ByteString>(puts);
                        var nestedDelF = new List<(ByteString, ByteString)>(deletes);
                        Collect(op.RequestTxn.Failure, nestedPutsF, nestedDelF);
                        break;
                }
            }
        }
    }
}

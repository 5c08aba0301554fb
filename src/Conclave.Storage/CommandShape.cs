using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;

namespace Conclave.Storage;

/// <summary>
/// What a command must look like for this store to apply it the same way on every member. The leader runs it on every
/// command before it enters the log, whoever proposed it (its own clients, the server's own writers, a follower's
/// forwarded batch): a command that would make a member fail must never be appended (ADR 0008). The client-facing
/// limits (sizes, operations per txn) are the edges' business (<see cref="RequestValidator"/>); this is the log's.
/// </summary>
public static class CommandShape
{
    /// <summary>
    /// Deepest txn nesting the log accepts: the same as the edges (<see cref="RequestValidator.MaxTxnDepth"/>). Every member
    /// parses each entry under protobuf's recursion limit (100 message levels); from 50 levels on a txn would be appended
    /// and then fail to parse on every member (ApplyRuleTests measures where).
    /// </summary>
    public const int MaxTxnDepth = RequestValidator.MaxTxnDepth;

    /// <exception cref="ConclaveErrorException">The command is not one this store applies (says which field and why).</exception>
    public static void Validate(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        ValidateKeyspace(command);
        switch (command.KindCase)
        {
            case Command.KindOneofCase.Put:
                RequireKey(command.Put.Key.IsEmpty, "put");
                break;
            case Command.KindOneofCase.DeleteRange:
                RequireKey(command.DeleteRange.Key.IsEmpty, "delete");
                break;
            case Command.KindOneofCase.Txn:
                ValidateTxn(command.Txn, 1);
                break;
            case Command.KindOneofCase.Compaction:
                break;
            case Command.KindOneofCase.Alarm:
                var alarm = command.Alarm;
                if (!Enum.IsDefined(alarm.Action) || !Enum.IsDefined(alarm.Alarm))
                {
                    throw Invalid($"alarm: action {(int)alarm.Action} or alarm type {(int)alarm.Alarm} is not one this build knows");
                }

                break;
            case Command.KindOneofCase.LeaseGrant:
                if (command.LeaseGrant.ID == 0 || command.LeaseGrant.TTL < 0)
                {
                    throw Invalid($"lease grant: id {command.LeaseGrant.ID} / TTL {command.LeaseGrant.TTL}: the id must be set and the TTL not negative");
                }

                break;
            case Command.KindOneofCase.LeaseRevoke:
                break;
            case Command.KindOneofCase.Auth:
                Auth.AuthStore.ValidateShape(command.Auth);
                break;
            default:
                throw Invalid("the command has no kind this build knows (a newer member's command, or not a command)");
        }
    }

    /// <summary>Puts, deletes, txns and lease grants and revokes name a keyspace; compaction and alarms apply to the whole store.</summary>
    private static void ValidateKeyspace(Command command)
    {
        if (command.Keyspace == KeyspaceKind.User)
        {
            return;
        }

        if (!Enum.IsDefined(command.Keyspace))
        {
            throw Invalid($"the command names keyspace {(int)command.Keyspace}, which this build does not know");
        }

        if (command.KindCase is not (Command.KindOneofCase.Put or Command.KindOneofCase.DeleteRange or Command.KindOneofCase.Txn
            or Command.KindOneofCase.LeaseGrant or Command.KindOneofCase.LeaseRevoke))
        {
            throw Invalid($"a {command.KindCase} command applies to the whole store and names no keyspace (it names {command.Keyspace})");
        }
    }

    private static void ValidateTxn(TxnRequest txn, int depth)
    {
        if (depth > MaxTxnDepth)
        {
            throw Invalid($"txn: nested more than {MaxTxnDepth} levels deep");
        }

        foreach (var c in txn.Compare)
        {
            RequireKey(c.Key.IsEmpty, "txn compare");
            if (c.TargetUnionCase == Compare.TargetUnionOneofCase.None || !Enum.IsDefined(c.Target) || !Enum.IsDefined(c.Result))
            {
                throw Invalid($"txn: a compare on key '{c.Key.ToStringUtf8()}' has no target value, or a target or result this build does not know");
            }
        }

        ValidateOps(txn.Success, depth);
        ValidateOps(txn.Failure, depth);
    }

    private static void ValidateOps(IEnumerable<RequestOp> ops, int depth)
    {
        foreach (var op in ops)
        {
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    RequireKey(op.RequestRange.Key.IsEmpty, "txn range");
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    RequireKey(op.RequestPut.Key.IsEmpty, "txn put");
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    RequireKey(op.RequestDeleteRange.Key.IsEmpty, "txn delete");
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    ValidateTxn(op.RequestTxn, depth + 1);
                    break;
                default:
                    throw Invalid("txn: an operation has no request set");
            }
        }
    }

    private static void RequireKey(bool empty, string what)
    {
        if (empty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, $"{what}: 'key' is empty");
        }
    }

    private static ConclaveErrorException Invalid(string detail) => new(ErrorCode.InvalidArgument, detail);
}

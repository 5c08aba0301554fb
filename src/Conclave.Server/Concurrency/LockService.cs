using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Conclave.Server.Grpc;
using Conclave.Server.Node;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Concurrency;

/// <summary>
/// etcd's v3lock service, with etcd's recipe: the waiter's key is <c>name/leaseID</c> (hex), waiters queue by
/// create revision, the holder is the lowest. The holder key's create revision is the fencing token: guard
/// writes with a txn comparing it. Every write goes through <see cref="KvFrontend"/> (validation, sizes); Unlock
/// deletes only a key of the recipe's shape held by the lease its name ends with (etcd's deletes
/// whatever key it is given).
/// </summary>
internal sealed class LockService(ConclaveNode node, KvFrontend kv, Security.Auth.Authenticator auth) : Api.Lock.Lock.LockBase
{
    private readonly KeyWaiter waiter = new(node);

    public override async Task<LockResponse> Lock(LockRequest request, ServerCallContext context)
    {
        if (request.Name.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "lock: 'name' is empty");
        }

        if (node.Store.FindLease(request.Lease) is not { Keyspace: Api.Raft.KeyspaceKind.User })
        {
            throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"lock: lease {request.Lease:x} does not exist");
        }

        var prefix = RecipeKeys.Prefix(request.Name);
        var key = RecipeKeys.Key(request.Name, request.Lease);

        // The recipe reads the whole queue and writes its own key, as etcd's lock service does with the caller's token.
        var user = auth.Resolve(context);
        node.Store.Auth.CheckRange(user, prefix, Storage.Mvcc.KeyOrder.PrefixEnd(prefix));
        var createRevision = await EnqueueAsync(key, request.Lease, user, context.CancellationToken);
        try
        {
            await waiter.WaitForPredecessorsAsync(prefix, createRevision, context.CancellationToken);
        }
        catch
        {
            // Leave the queue: a waiter that gave up must not block the ones behind it.
            await ReleaseAsync(key, createRevision, user, CancellationToken.None);
            throw;
        }

        var mine = node.Store.Range(new RangeRequest { Key = key });
        if (mine.Kvs.Count == 0 || mine.Kvs[0].CreateRevision != createRevision)
        {
            throw new ConclaveErrorException(ErrorCode.SessionExpired, "lock: the lease ended while waiting");
        }

        return new LockResponse { Header = node.Header(mine.Header.Revision), Key = key };
    }

    public override async Task<UnlockResponse> Unlock(UnlockRequest request, ServerCallContext context)
    {
        if (request.Key.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "unlock: 'key' is empty");
        }

        var user = auth.Resolve(context);
        if (RecipeKeys.LeaseOf(request.Key) is not { } lease)
        {
            // Not a lock key: nothing to release. Answered like etcd's delete of a missing key, unless the key exists.
            var existing = await kv.RangeAsync(new RangeRequest { Key = request.Key, CountOnly = true }, user, context.CancellationToken);
            return existing.Count == 0
                ? new UnlockResponse { Header = existing.Header }
                : throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"unlock: '{request.Key.ToStringUtf8()}' is not a lock key (name/<lease id in hex>)");
        }

        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = request.Key, Target = Compare.Types.CompareTarget.Lease, Result = Compare.Types.CompareResult.Equal, Lease = lease });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = request.Key } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = request.Key, KeysOnly = true } });
        var response = await kv.TxnAsync(txn, user, context.CancellationToken);
        if (!response.Succeeded && response.Responses[0].ResponseRange.Kvs.Count > 0)
        {
            // The key exists but is not held by the lease it names: not a lock this call may release.
            throw new ConclaveErrorException(ErrorCode.InvalidArgument, $"unlock: '{request.Key.ToStringUtf8()}' is not held by lease {lease:x}");
        }

        // A key already gone (released, or its lease ended) unlocks as nothing, as etcd's delete does.
        return new UnlockResponse { Header = response.Header };
    }

    /// <summary>Creates the waiter key unless it exists (a retry with the same lease), returning its create revision.</summary>
    private async Task<long> EnqueueAsync(ByteString key, long lease, string user, CancellationToken cancellationToken)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Lease = lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
        var response = await kv.TxnAsync(txn, user, cancellationToken);
        return response.Succeeded ? response.Header.Revision : response.Responses[0].ResponseRange.Kvs[0].CreateRevision;
    }

    private async Task ReleaseAsync(ByteString key, long createRevision, string user, CancellationToken cancellationToken)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = createRevision });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } });
        try
        {
            await kv.TxnAsync(txn, user, cancellationToken);
        }
        catch (Exception e) when (e is ConclaveErrorException or RpcException or Cluster.ConsensusUnavailableException or OperationCanceledException)
        {
            // The lease will remove the key when it ends.
        }
    }
}

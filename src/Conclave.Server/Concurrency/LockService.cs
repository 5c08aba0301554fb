using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Conclave.Api.Raft;
using Conclave.Server.Grpc;
using Conclave.Server.Node;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Concurrency;

/// <summary>
/// etcd's v3lock service, with etcd's recipe: the waiter's key is <c>name/leaseID</c> (hex), waiters queue by
/// create revision, the holder is the lowest. The holder key's create revision is the fencing token: guard
/// writes with a txn comparing it.
/// </summary>
internal sealed class LockService(ConclaveNode node, KvFrontend kv) : Api.Lock.Lock.LockBase
{
    private readonly KeyWaiter waiter = new(node);

    public override async Task<LockResponse> Lock(LockRequest request, ServerCallContext context)
    {
        if (request.Name.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "lock: 'name' is empty");
        }

        if (node.Store.FindLease(request.Lease) is null)
        {
            throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"lock: lease {request.Lease:x} does not exist");
        }

        var prefix = ByteString.CopyFrom([.. request.Name.Span, (byte)'/']);
        var key = ByteString.CopyFromUtf8(prefix.ToStringUtf8() + request.Lease.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        var createRevision = await EnqueueAsync(key, request.Lease, context.CancellationToken);
        try
        {
            await waiter.WaitForPredecessorsAsync(prefix, createRevision, context.CancellationToken);
        }
        catch
        {
            // Leave the queue: a waiter that gave up must not block the ones behind it.
            await ReleaseAsync(key, createRevision, CancellationToken.None);
            throw;
        }

        var mine = node.Store.Range(new RangeRequest { Key = key });
        if (mine.Kvs.Count == 0 || mine.Kvs[0].CreateRevision != createRevision)
        {
            throw new RpcException(new Status(StatusCode.Unknown, "concurrency: session expired (the lock's lease ended while waiting)"));
        }

        return new LockResponse { Header = node.Header(mine.Header.Revision), Key = key };
    }

    public override async Task<UnlockResponse> Unlock(UnlockRequest request, ServerCallContext context)
    {
        var response = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = request.Key }, context.CancellationToken);
        return new UnlockResponse { Header = response.Header };
    }

    /// <summary>Creates the waiter key unless it exists (a retry with the same lease), returning its create revision.</summary>
    private async Task<long> EnqueueAsync(ByteString key, long lease, CancellationToken cancellationToken)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Lease = lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
        var response = await node.ProposeAsync<TxnResponse>(new Command { Txn = txn }, cancellationToken);
        return response.Succeeded ? response.Header.Revision : response.Responses[0].ResponseRange.Kvs[0].CreateRevision;
    }

    private async Task ReleaseAsync(ByteString key, long createRevision, CancellationToken cancellationToken)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = createRevision });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } });
        try
        {
            await node.ProposeAsync<TxnResponse>(new Command { Txn = txn }, cancellationToken);
        }
        catch (Exception e) when (e is ConclaveErrorException or Cluster.ConsensusUnavailableException or OperationCanceledException)
        {
            // The lease will remove the key when it ends.
        }
    }
}

using Conclave.Api.Election;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Grpc;
using Conclave.Server.Node;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Hosting;

namespace Conclave.Server.Concurrency;

/// <summary>
/// etcd's v3election service, with etcd's recipe: a candidate's key is <c>name/leaseID</c> (hex); candidates
/// queue by create revision; the leader is the lowest. The leader's create revision (<c>LeaderKey.rev</c>) is
/// its fencing token. Every write goes through <see cref="KvFrontend"/> (validation, sizes);
/// Proclaim and Resign touch only a candidate key held by the leader key's lease (etcd checks just the create
/// revision, so there they reach any key whose revision is known).
/// </summary>
internal sealed class ElectionService(ConclaveNode node, KvFrontend kv, Security.Auth.Authenticator auth, IHostApplicationLifetime lifetime) : Election.ElectionBase
{
    private readonly KeyWaiter waiter = new(node);

    public override async Task<CampaignResponse> Campaign(CampaignRequest request, ServerCallContext context)
    {
        if (request.Name.IsEmpty)
        {
            throw new ConclaveErrorException(ErrorCode.KeyNotProvided, "campaign: 'name' is empty");
        }

        if (node.Store.FindLease(request.Lease) is not { Keyspace: Api.Raft.KeyspaceKind.User })
        {
            throw new ConclaveErrorException(ErrorCode.LeaseNotFound, $"campaign: lease {request.Lease:x} does not exist");
        }

        var prefix = RecipeKeys.Prefix(request.Name);
        var key = RecipeKeys.Key(request.Name, request.Lease);
        var user = auth.Resolve(context);
        node.Store.Auth.CheckRange(user, prefix, Storage.Mvcc.KeyOrder.PrefixEnd(prefix));
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = request.Value, Lease = request.Lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
        var enqueued = await kv.TxnAsync(txn, user, context.CancellationToken);
        long createRevision;
        if (enqueued.Succeeded)
        {
            createRevision = enqueued.Header.Revision;
        }
        else
        {
            var existing = enqueued.Responses[0].ResponseRange.Kvs[0];
            createRevision = existing.CreateRevision;
            if (existing.Value != request.Value)
            {
                await ProclaimCoreAsync(key, createRevision, request.Lease, request.Value, user, context.CancellationToken);
            }
        }

        try
        {
            await waiter.WaitForPredecessorsAsync(prefix, createRevision, context.CancellationToken);
        }
        catch
        {
            await ResignCoreAsync(key, createRevision, request.Lease, user, CancellationToken.None);
            throw;
        }

        var mine = node.Store.Range(new RangeRequest { Key = key });
        if (mine.Kvs.Count == 0 || mine.Kvs[0].CreateRevision != createRevision)
        {
            throw new ConclaveErrorException(ErrorCode.SessionExpired, "campaign: the lease ended while waiting");
        }

        return new CampaignResponse
        {
            Header = node.Header(mine.Header.Revision),
            Leader = new LeaderKey { Name = request.Name, Key = key, Rev = createRevision, Lease = request.Lease },
        };
    }

    public override async Task<ProclaimResponse> Proclaim(ProclaimRequest request, ServerCallContext context)
    {
        var leader = request.Leader ?? throw new ConclaveErrorException(ErrorCode.InvalidArgument, "proclaim: the 'leader' field must be provided");
        RecipeKeys.CheckHeldShape("proclaim", leader.Name, leader.Key, leader.Lease);
        var revision = await ProclaimCoreAsync(leader.Key, leader.Rev, leader.Lease, request.Value, auth.Resolve(context), context.CancellationToken);
        return new ProclaimResponse { Header = node.Header(revision) };
    }

    public override async Task<LeaderResponse> Leader(LeaderRequest request, ServerCallContext context)
    {
        await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        CheckMayRead(request.Name, context);
        var (owner, revision) = waiter.Owner(RecipeKeys.Prefix(request.Name));
        if (owner is null)
        {
            throw new ConclaveErrorException(ErrorCode.ElectionNoLeader, $"election '{request.Name.ToStringUtf8()}' has no leader");
        }

        return new LeaderResponse { Header = node.Header(revision), Kv = owner };
    }

    public override async Task Observe(LeaderRequest request, IServerStreamWriter<LeaderResponse> responseStream, ServerCallContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping, node.Consensus.Stopping);
        var prefix = RecipeKeys.Prefix(request.Name);
        CheckMayRead(request.Name, context);
        Api.Mvcc.KeyValue? last = null;
        try
        {
            while (true)
            {
                var (owner, revision) = waiter.Owner(prefix);
                if (owner is not null && (last is null || owner.Key != last.Key || owner.ModRevision != last.ModRevision))
                {
                    await responseStream.WriteAsync(new LeaderResponse { Header = node.Header(revision), Kv = owner }, linked.Token);
                    last = owner;
                }

                await waiter.WaitForChangeAsync(prefix, revision, linked.Token);
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // Observer gone or member stopping.
        }
    }

    public override async Task<ResignResponse> Resign(ResignRequest request, ServerCallContext context)
    {
        var leader = request.Leader ?? throw new ConclaveErrorException(ErrorCode.InvalidArgument, "resign: the 'leader' field must be provided");
        RecipeKeys.CheckHeldShape("resign", leader.Name, leader.Key, leader.Lease);
        var revision = await ResignCoreAsync(leader.Key, leader.Rev, leader.Lease, auth.Resolve(context), context.CancellationToken);
        return new ResignResponse { Header = node.Header(revision) };
    }

    /// <summary>Sets the leader's value if <paramref name="key"/> is still the candidate created at <paramref name="createRevision"/> under <paramref name="lease"/>.</summary>
    private async Task<long> ProclaimCoreAsync(ByteString key, long createRevision, long lease, ByteString value, string user, CancellationToken cancellationToken)
    {
        var txn = HeldBy(key, createRevision, lease);
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = value, Lease = lease } });
        var response = await kv.TxnAsync(txn, user, cancellationToken);
        if (!response.Succeeded)
        {
            throw new ConclaveErrorException(ErrorCode.ElectionNotLeader, "proclaim: the key is no longer the leader it names (another revision or lease)");
        }

        return response.Header.Revision;
    }

    /// <summary>Deletes the candidate key if it is still the one created at <paramref name="createRevision"/> under <paramref name="lease"/>; otherwise nothing (as etcd).</summary>
    private async Task<long> ResignCoreAsync(ByteString key, long createRevision, long lease, string user, CancellationToken cancellationToken)
    {
        var txn = HeldBy(key, createRevision, lease);
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } });
        var response = await kv.TxnAsync(txn, user, cancellationToken);
        return response.Header.Revision;
    }

    /// <summary>Leader and Observe read the election's candidates: the caller needs read on its prefix.</summary>
    private void CheckMayRead(ByteString name, ServerCallContext context)
    {
        var prefix = RecipeKeys.Prefix(name);
        node.Store.Auth.CheckRange(auth.Resolve(context), prefix, Storage.Mvcc.KeyOrder.PrefixEnd(prefix));
    }

    private static TxnRequest HeldBy(ByteString key, long createRevision, long lease)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = createRevision });
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Lease, Result = Compare.Types.CompareResult.Equal, Lease = lease });
        return txn;
    }
}

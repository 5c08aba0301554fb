using Conclave.Api.ClusterInternal;
using Conclave.Api.Errors;
using Conclave.Cluster;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// The leader's side of member-to-member requests (conclave.cluster.v1.Forwarding): followers forward their
/// proposal batches, ask for read indexes and renew leases here. "Not the leader" is FAILED_PRECONDITION, which
/// tells the follower nothing was appended and it may ask the next leader.
/// </summary>
internal sealed class ForwardingService(ConclaveNode node, LeaseKeeper keeper) : Forwarding.ForwardingBase
{
    public override async Task<ForwardProposalResponse> Propose(ForwardProposalRequest request, ServerCallContext context)
    {
        try
        {
            await node.Consensus.AppendForwardedAsync(request.FromMember, request.Batch.Memory, context.CancellationToken);
        }
        catch (ConsensusUnavailableException e) when (e.NotApplied)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }

        return new ForwardProposalResponse { Term = node.Consensus.Term };
    }

    public override async Task<ReadIndexResponse> ReadIndex(ReadIndexRequest request, ServerCallContext context)
    {
        try
        {
            var index = await node.Consensus.ConfirmLeadershipAsync(context.CancellationToken);
            return new ReadIndexResponse { CommitIndex = index, Term = node.Consensus.Term };
        }
        catch (ConsensusUnavailableException e) when (e.NotApplied)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    public override Task<LeaseRenewResponse> LeaseRenew(LeaseRenewRequest request, ServerCallContext context)
    {
        try
        {
            return Task.FromResult(new LeaseRenewResponse { Ttl = keeper.Renew(request.Id) });
        }
        catch (ConclaveErrorException e) when (e.Code is ErrorCode.NotLeader or ErrorCode.NoLeader)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    public override async Task<RemovedAck> Removed(RemovedNotice request, ServerCallContext context)
    {
        if (request.MemberId == node.Consensus.Status.MemberId)
        {
            await node.Consensus.ConfirmRemovedAsync(context.CancellationToken);
        }

        return new RemovedAck();
    }

    public override Task<ConfigurationResponse> Configuration(ConfigurationRequest request, ServerCallContext context) =>
        Task.FromResult(node.Consensus.DescribeConfiguration());

    public override async Task Follow(IAsyncStreamReader<FollowRequest> requestStream, IServerStreamWriter<FollowResponse> responseStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken))
        {
            return;
        }

        var first = requestStream.Current;
        try
        {
            if (!node.Consensus.IsLeader)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "not the leader: follow the leader"));
            }

            var record = MemberRecords.Learners.Find(node.Store, first.MemberId)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"no learner has id {first.MemberId:x}"));
            if (record.Name != first.Name || !record.ClientURLs.SequenceEqual(first.ClientUrls))
            {
                // How the learner is listed: its name and client URLs, as it reports them.
                var updated = record.Clone();
                updated.Name = first.Name;
                updated.ClientURLs.Clear();
                updated.ClientURLs.AddRange(first.ClientUrls);
                await MemberRecords.Learners.PutAsync(node, updated, createOnly: false, context.CancellationToken);
            }

            await node.Consensus.ServeFollowerAsync(first, requestStream, responseStream, context.CancellationToken);
        }
        catch (ConsensusUnavailableException e) when (e.NotApplied)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }
}

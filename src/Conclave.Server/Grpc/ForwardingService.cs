using Conclave.Api.ClusterInternal;
using Conclave.Cluster;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// The leader's side of a learner's feed (conclave.cluster.v1.Forwarding/Follow), on the peer listener's gRPC channel.
/// Every other member-to-member request (forwarded batches, read indexes, lease renewals, removal notices) travels on
/// the request channel that Conclave.Cluster serves itself (ADR 0013). "Not the leader" is FAILED_PRECONDITION.
/// </summary>
internal sealed class ForwardingService(ConclaveNode node) : Forwarding.ForwardingBase
{
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

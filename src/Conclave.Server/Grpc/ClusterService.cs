using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Cluster service: member list, add, remove (changes go to the leader); update and promote as far as they apply.</summary>
internal sealed class ClusterService(ConclaveNode node) : Api.Etcd.Cluster.ClusterBase
{
    public override async Task<MemberListResponse> MemberList(MemberListRequest request, ServerCallContext context)
    {
        if (request.Linearizable)
        {
            await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        }

        var response = new MemberListResponse { Header = node.Header(node.Store.Revision) };
        response.Members.AddRange(await MembersAsync(context.CancellationToken));
        return response;
    }

    public override async Task<MemberAddResponse> MemberAdd(MemberAddRequest request, ServerCallContext context)
    {
        if (request.PeerURLs.Count != 1)
        {
            throw ErrorMapping.Create(ErrorCode.MemberBadUrls, "give exactly one peer URL for the new member");
        }

        if (await node.Consensus.LeaderInvokerAsync(context.CancellationToken) is { } leader)
        {
            // Only the leader changes the configuration: ask it, and answer its answer.
            return await new Api.Etcd.Cluster.ClusterClient(leader).MemberAddAsync(request, cancellationToken: context.CancellationToken);
        }

        var added = await node.Consensus.AddMemberAsync(request.PeerURLs[0], request.IsLearner, context.CancellationToken);
        var member = new Member { ID = added.Id, Name = added.Name, IsLearner = added.IsLearner };
        member.PeerURLs.AddRange(added.PeerUrls);
        var response = new MemberAddResponse { Header = node.Header(node.Store.Revision), Member = member };
        response.Members.AddRange(await MembersAsync(context.CancellationToken));
        return response;
    }

    public override async Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context)
    {
        if (await node.Consensus.LeaderInvokerAsync(context.CancellationToken) is { } leader)
        {
            return await new Api.Etcd.Cluster.ClusterClient(leader).MemberRemoveAsync(request, cancellationToken: context.CancellationToken);
        }

        await node.Consensus.RemoveMemberAsync(request.ID, context.CancellationToken);
        var response = new MemberRemoveResponse { Header = node.Header(node.Store.Revision) };
        response.Members.AddRange(await MembersAsync(context.CancellationToken));
        return response;
    }

    public override async Task<MemberUpdateResponse> MemberUpdate(MemberUpdateRequest request, ServerCallContext context)
    {
        var members = await MembersAsync(context.CancellationToken);
        var member = members.FirstOrDefault(m => m.ID == request.ID)
            ?? throw ErrorMapping.Create(ErrorCode.MemberNotFound, $"no member has id {request.ID:x}");
        if (!member.PeerURLs.SequenceEqual(request.PeerURLs))
        {
            // Raft here identifies a member by its peer address, so a new address is a new member.
            throw ErrorMapping.Create(ErrorCode.NotCapable,
                "changing a member's peer URL is not supported: remove the member, then add it again with the new URL (and a fresh data directory)");
        }

        var response = new MemberUpdateResponse { Header = node.Header(node.Store.Revision) };
        response.Members.AddRange(members);
        return response;
    }

    public override async Task<MemberPromoteResponse> MemberPromote(MemberPromoteRequest request, ServerCallContext context)
    {
        var members = await MembersAsync(context.CancellationToken);
        if (members.All(m => m.ID != request.ID))
        {
            throw ErrorMapping.Create(ErrorCode.MemberNotFound, $"no member has id {request.ID:x}");
        }

        // Every member is a voter (learners are not supported), so there is nothing to promote, as etcd answers
        // for a voting member.
        throw ErrorMapping.Create(ErrorCode.MemberNotLearner, $"member {request.ID:x} is a voting member");
    }

    private async Task<List<Member>> MembersAsync(CancellationToken cancellationToken)
    {
        var local = node.Consensus.Status.MemberId;
        var members = new List<Member>();
        foreach (var m in await node.Consensus.MembersAsync(cancellationToken))
        {
            var member = new Member { ID = m.Id, Name = m.Name, IsLearner = m.IsLearner };
            member.PeerURLs.AddRange(m.PeerUrls);
            member.ClientURLs.AddRange(m.Id == local ? node.ClientUrls : m.ClientUrls);
            members.Add(member);
        }

        return members;
    }

}

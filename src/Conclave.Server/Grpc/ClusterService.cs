using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Cluster service. Membership changes arrive with multi-member clusters (a later issue).</summary>
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

    public override Task<MemberAddResponse> MemberAdd(MemberAddRequest request, ServerCallContext context) => NotYet<MemberAddResponse>();

    public override Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context) => NotYet<MemberRemoveResponse>();

    public override Task<MemberUpdateResponse> MemberUpdate(MemberUpdateRequest request, ServerCallContext context) => NotYet<MemberUpdateResponse>();

    public override Task<MemberPromoteResponse> MemberPromote(MemberPromoteRequest request, ServerCallContext context) => NotYet<MemberPromoteResponse>();

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

    private static Task<T> NotYet<T>() =>
        throw ErrorMapping.Create(ErrorCode.NotCapable, "runtime membership changes are not supported by this build yet");
}

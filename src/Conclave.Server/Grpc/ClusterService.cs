using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>
/// etcd's Cluster service over <see cref="Cluster.RecordedMembership"/>: member list, add, remove and promote (changes go to
/// the leader), update as far as it applies. Only validation and the mapping to etcd's messages live here.
/// </summary>
internal sealed class ClusterService(ConclaveNode node) : Api.Etcd.Cluster.ClusterBase
{
    /// <summary>etcd's Cluster service header: cluster id, member id and raft term, no revision (membership is not a KV write).</summary>
    private ResponseHeader MembershipHeader() => node.Header(0);

    public override async Task<MemberListResponse> MemberList(MemberListRequest request, ServerCallContext context)
    {
        if (request.Linearizable)
        {
            await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        }

        var response = new MemberListResponse { Header = MembershipHeader() };
        response.Members.AddRange(await MembersAsync(context.CancellationToken));
        return response;
    }

    public override Task<MemberAddResponse> MemberAdd(MemberAddRequest request, ServerCallContext context)
    {
        if (request.PeerURLs.Count != 1)
        {
            throw ErrorMapping.Create(ErrorCode.MemberBadUrls, "give exactly one peer URL for the new member");
        }

        return OnLeaderAsync(Node.LeaderCalls.MemberAdd, request, MemberAddResponse.Parser, ct => MemberAddHereAsync(request, ct), context.CancellationToken);
    }

    /// <summary>The leader's side of a member add (also for one a follower passed on).</summary>
    internal async Task<MemberAddResponse> MemberAddHereAsync(MemberAddRequest request, CancellationToken cancellationToken)
    {
        if (request.PeerURLs.Count != 1)
        {
            throw ErrorMapping.Create(ErrorCode.MemberBadUrls, "give exactly one peer URL for the new member");
        }

        var added = await node.Members.AddAsync(request.PeerURLs[0], request.IsLearner, cancellationToken);
        var member = new Member { ID = added.Id, Name = added.Name, IsLearner = added.IsLearner };
        member.PeerURLs.AddRange(added.PeerUrls);
        var response = new MemberAddResponse { Header = MembershipHeader(), Member = member };
        response.Members.AddRange(await MembersAsync(cancellationToken));
        return response;
    }

    public override Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context) =>
        OnLeaderAsync(Node.LeaderCalls.MemberRemove, request, MemberRemoveResponse.Parser, ct => MemberRemoveHereAsync(request, ct), context.CancellationToken);

    /// <summary>The leader's side of a member remove (also for one a follower passed on).</summary>
    internal async Task<MemberRemoveResponse> MemberRemoveHereAsync(MemberRemoveRequest request, CancellationToken cancellationToken)
    {
        await node.Members.RemoveAsync(request.ID, cancellationToken);
        var response = new MemberRemoveResponse { Header = MembershipHeader() };
        // The change is committed; the engine's own member list may trail it by a moment.
        response.Members.AddRange((await MembersAsync(cancellationToken)).Where(m => m.ID != request.ID));
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

        var response = new MemberUpdateResponse { Header = MembershipHeader() };
        response.Members.AddRange(members);
        return response;
    }

    public override Task<MemberPromoteResponse> MemberPromote(MemberPromoteRequest request, ServerCallContext context) =>
        OnLeaderAsync(Node.LeaderCalls.MemberPromote, request, MemberPromoteResponse.Parser, ct => MemberPromoteHereAsync(request, ct), context.CancellationToken);

    /// <summary>The leader's side of a member promote (also for one a follower passed on).</summary>
    internal async Task<MemberPromoteResponse> MemberPromoteHereAsync(MemberPromoteRequest request, CancellationToken cancellationToken)
    {
        await node.Members.PromoteAsync(request.ID, cancellationToken);
        var response = new MemberPromoteResponse { Header = MembershipHeader() };
        response.Members.AddRange(await MembersAsync(cancellationToken));
        return response;
    }

    /// <summary>
    /// Runs a membership change where only the leader can: here when this member leads, else on the leader, over the
    /// peer listener (its response is answered as is). A leader that is still taking office, or one that just stepped
    /// down, answers "not leader" without changing anything; that is retried until a leader takes it or the wait runs out
    /// (long enough for a leader that was asked to remove itself to step down and a successor to take office).
    /// </summary>
    private Task<TResponse> OnLeaderAsync<TResponse>(
        string kind, Google.Protobuf.IMessage request, Google.Protobuf.MessageParser<TResponse> parser, Func<CancellationToken, Task<TResponse>> local,
        CancellationToken cancellationToken)
        where TResponse : Google.Protobuf.IMessage<TResponse> =>
        Node.LeaderCalls.OnLeaderAsync(node, kind, request, parser, local, 2 * node.Options.LeaderWaitTimeout, cancellationToken);

    /// <summary>Serves the membership changes followers pass to this member while it leads.</summary>
    internal static void HandleLeaderRequests(ConclaveNode node)
    {
        Node.LeaderCalls.Handle(node, Node.LeaderCalls.MemberAdd, MemberAddRequest.Parser,
            async (r, ct) => await new ClusterService(node).MemberAddHereAsync(r, ct));
        Node.LeaderCalls.Handle(node, Node.LeaderCalls.MemberRemove, MemberRemoveRequest.Parser,
            async (r, ct) => await new ClusterService(node).MemberRemoveHereAsync(r, ct));
        Node.LeaderCalls.Handle(node, Node.LeaderCalls.MemberPromote, MemberPromoteRequest.Parser,
            async (r, ct) => await new ClusterService(node).MemberPromoteHereAsync(r, ct));
    }

    /// <summary>Raft's configuration, then the learners and joining members recorded in the system keyspace.</summary>
    private async Task<List<Member>> MembersAsync(CancellationToken cancellationToken)
    {
        var local = node.Consensus.Status.MemberId;
        // Client URLs as advertised, scheme included, as etcd lists them (ADR 0005); this member's from its own listeners.
        return [.. (await node.Members.MembersAsync(cancellationToken)).Select(m => new Member
        {
            ID = m.Id,
            Name = m.Name,
            IsLearner = m.IsLearner,
            PeerURLs = { m.PeerUrls },
            ClientURLs = { m.Id == local ? node.ClientUrls : m.ClientUrls },
        })];
    }
}

using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Server.Node;
using Grpc.Core;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Cluster service: member list, add, remove (changes go to the leader); update and promote as far as they apply.</summary>
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

        var added = await AddHereAsync(request.PeerURLs[0], request.IsLearner, cancellationToken);
        var member = new Member { ID = added.Id, Name = added.Name, IsLearner = added.IsLearner };
        member.PeerURLs.AddRange(added.PeerUrls);
        var response = new MemberAddResponse { Header = MembershipHeader(), Member = member };
        response.Members.AddRange(await MembersAsync(cancellationToken));
        return response;
    }

    /// <summary>On the leader: a voting member joins through Raft; a learner is recorded in the keyspace and follows the log.</summary>
    private async Task<Cluster.MemberInfo> AddHereAsync(string peerUrl, bool isLearner, CancellationToken cancellationToken)
    {
        var learners = MemberRecords.Learners.List(node.Store);
        if (learners.Any(m => m.PeerURLs.Contains(peerUrl)))
        {
            throw ErrorMapping.Create(ErrorCode.PeerUrlExists, $"a learner with peer URL {peerUrl} already exists");
        }

        var added = await node.Consensus.Membership.AddMemberAsync(peerUrl, isLearner, cancellationToken);
        var record = new Member { ID = added.Id, IsLearner = isLearner };
        record.PeerURLs.AddRange(added.PeerUrls);
        if (isLearner)
        {
            if (!await MemberRecords.Learners.PutAsync(node, record, createOnly: true, cancellationToken))
            {
                throw ErrorMapping.Create(ErrorCode.PeerUrlExists, $"a learner with peer URL {peerUrl} already exists");
            }
        }
        else
        {
            // The leader holds a joining member in memory; the record lets the next leader continue if this one fails
            // before the member joined (Node.JoiningKeeper).
            await MemberRecords.Joining.PutAsync(node, record, createOnly: false, cancellationToken);
        }

        return added;
    }

    public override Task<MemberRemoveResponse> MemberRemove(MemberRemoveRequest request, ServerCallContext context) =>
        OnLeaderAsync(Node.LeaderCalls.MemberRemove, request, MemberRemoveResponse.Parser, ct => MemberRemoveHereAsync(request, ct), context.CancellationToken);

    /// <summary>The leader's side of a member remove (also for one a follower passed on).</summary>
    internal async Task<MemberRemoveResponse> MemberRemoveHereAsync(MemberRemoveRequest request, CancellationToken cancellationToken)
    {
        if (MemberRecords.Learners.Find(node.Store, request.ID) is not null && !await IsVoterAsync(request.ID, cancellationToken))
        {
            // A learner leaves by losing its record; its feed ends, and it finds itself unlisted and stops.
            await MemberRecords.Learners.DeleteAsync(node, request.ID, cancellationToken);
            node.Consensus.Membership.DropFollower(request.ID);
        }
        else
        {
            var joining = MemberRecords.Joining.Find(node.Store, request.ID);
            try
            {
                await node.Consensus.Membership.RemoveMemberAsync(request.ID, cancellationToken);
            }
            catch (Cluster.MembershipException e) when (e.Error == Cluster.MembershipError.NotFound && joining is not null)
            {
                // Added, not joined, and forgotten by a leader that failed: the record is all there is.
            }

            if (joining is not null)
            {
                await MemberRecords.Joining.DeleteAsync(node, request.ID, cancellationToken);
            }
        }

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
        var voter = await IsVoterAsync(request.ID, cancellationToken);
        var record = MemberRecords.Learners.Find(node.Store, request.ID);
        if (record is null || voter)
        {
            throw voter
                ? ErrorMapping.Create(ErrorCode.MemberNotLearner, $"member {request.ID:x} is a voting member")
                : ErrorMapping.Create(ErrorCode.MemberNotFound, $"no member has id {request.ID:x}");
        }

        await node.Consensus.Membership.PromoteLearnerAsync(request.ID, record.PeerURLs[0], cancellationToken);
        // A voting member now (committed): the record goes; until then the voter entry shadows it.
        await MemberRecords.Learners.DeleteAsync(node, request.ID, cancellationToken);
        var response = new MemberPromoteResponse { Header = MembershipHeader() };
        response.Members.AddRange(await MembersAsync(cancellationToken));
        return response;
    }

    /// <summary>
    /// The header etcd 3.4's Cluster service answers with: cluster id, member id and term, but no revision (the
    /// membership is not part of the keyspace, so no revision describes it).
    /// </summary>
    private async Task<bool> IsVoterAsync(ulong id, CancellationToken cancellationToken) =>
        (await node.Consensus.Membership.MembersAsync(cancellationToken)).Any(m => m.Id == id);

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

    private async Task<List<Member>> MembersAsync(CancellationToken cancellationToken)
    {
        var local = node.Consensus.Status.MemberId;
        var members = new List<Member>();
        void Add(Member member, IEnumerable<string> clientUrls)
        {
            // As advertised, scheme included, as etcd lists them (ADR 0005).
            member.ClientURLs.Clear();
            member.ClientURLs.AddRange(member.ID == local ? node.ClientUrls : clientUrls);
            members.Add(member);
        }

        foreach (var m in await node.Consensus.Membership.MembersAsync(cancellationToken))
        {
            Add(new Member { ID = m.Id, Name = m.Name, IsLearner = m.IsLearner, PeerURLs = { m.PeerUrls } }, m.ClientUrls);
        }

        // Learners and members added but not joined are recorded in the keyspace; Raft's view shadows a record (a
        // learner being promoted is listed once, as the voter it becomes).
        foreach (var record in MemberRecords.Learners.List(node.Store).Concat(MemberRecords.Joining.List(node.Store)))
        {
            if (members.All(m => m.ID != record.ID))
            {
                Add(record.Clone(), record.ClientURLs);
            }
        }

        return members;
    }

}

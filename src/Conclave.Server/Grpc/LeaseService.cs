using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Grpc.Core;
using Microsoft.Extensions.Hosting;

namespace Conclave.Server.Grpc;

/// <summary>etcd's Lease service.</summary>
internal sealed class LeaseService(ConclaveNode node, LeaseKeeper keeper, Security.Auth.Authenticator auth, IHostApplicationLifetime lifetime) : Lease.LeaseBase
{
    public override Task<LeaseGrantResponse> LeaseGrant(LeaseGrantRequest request, ServerCallContext context) =>
        keeper.GrantAsync(request, auth.Resolve(context), context.CancellationToken);

    // A lease of the system keyspace (the configuration center's, for its delivery records) does not exist for this API:
    // the revoke below answers "requested lease not found" (the state machine revokes only the caller's keyspace's
    // leases), time-to-live answers TTL -1, keep-alive TTL 0, and the list leaves it out.
    public override Task<LeaseRevokeResponse> LeaseRevoke(LeaseRevokeRequest request, ServerCallContext context) =>
        keeper.RevokeAsync(request.ID, auth.Resolve(context), context.CancellationToken);

    public override async Task<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseTimeToLiveRequest request, ServerCallContext context)
    {
        var user = auth.Resolve(context);
        node.Store.Auth.CheckAuthenticated(user);
        // Only the leader's clock knows how long a lease has left.
        var response = await Node.LeaderCalls.OnLeaderAsync(
            node, Node.LeaderCalls.LeaseTimeToLive, request, LeaseTimeToLiveResponse.Parser,
            ct => TimeToLiveHereAsync(node, keeper, request, ct), TimeSpan.Zero, context.CancellationToken);
        if (request.Keys)
        {
            // The keys are shown only to a user who may read each of them (etcd 3.5's rule).
            foreach (var key in response.Keys)
            {
                node.Store.Auth.CheckRange(user, key, Google.Protobuf.ByteString.Empty);
            }
        }

        response.Header = node.Fill(response.Header);
        return response;
    }

    /// <summary>Serves the LeaseTimeToLive requests followers pass to this member while it leads.</summary>
    internal static void HandleLeaderRequests(ConclaveNode node, LeaseKeeper keeper) =>
        Node.LeaderCalls.Handle(node, Node.LeaderCalls.LeaseTimeToLive, LeaseTimeToLiveRequest.Parser,
            async (request, ct) => await TimeToLiveHereAsync(node, keeper, request, ct));

    /// <summary>The leader's answer to LeaseTimeToLive (also for a follower that passed it on).</summary>
    internal static async Task<LeaseTimeToLiveResponse> TimeToLiveHereAsync(ConclaveNode node, LeaseKeeper keeper, LeaseTimeToLiveRequest request, CancellationToken cancellationToken)
    {
        await node.Consensus.ReadBarrierAsync(cancellationToken);
        var lease = node.Store.FindLease(request.ID);
        var response = new LeaseTimeToLiveResponse { Header = node.Header(node.Store.Revision), ID = request.ID };
        if (lease is null || lease.Keyspace != KeyspaceKind.User)
        {
            // etcd answers an unknown lease with TTL -1 rather than an error.
            response.TTL = -1;
            return response;
        }

        response.TTL = keeper.RemainingSeconds(request.ID) ?? -1;
        response.GrantedTTL = lease.Ttl;
        if (request.Keys)
        {
            response.Keys.AddRange(lease.Keys.OrderBy(k => k, Comparer<Google.Protobuf.ByteString>.Create(Storage.Mvcc.KeyOrder.Compare)));
        }

        return response;
    }

    public override async Task<LeaseLeasesResponse> LeaseLeases(LeaseLeasesRequest request, ServerCallContext context)
    {
        await node.Consensus.ReadBarrierAsync(context.CancellationToken);
        node.Store.Auth.CheckAuthenticated(auth.Resolve(context));
        var response = new LeaseLeasesResponse { Header = node.Header(node.Store.Revision) };
        response.Leases.AddRange(node.Store.LeaseTtls(KeyspaceKind.User).Keys.Order().Select(id => new LeaseStatus { ID = id }));
        return response;
    }

    public override async Task LeaseKeepAlive(IAsyncStreamReader<LeaseKeepAliveRequest> requestStream, IServerStreamWriter<LeaseKeepAliveResponse> responseStream, ServerCallContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping, node.Consensus.Stopping);
        var user = auth.Resolve(context);
        try
        {
            while (await requestStream.MoveNext(linked.Token))
            {
                var id = requestStream.Current.ID;
                node.Store.Auth.CheckAuthenticated(user);
                long ttl;
                try
                {
                    ttl = await keeper.RenewAnywhereAsync(id, linked.Token);
                }
                catch (ConclaveErrorException e) when (e.Code is ErrorCode.NotLeader or ErrorCode.NoLeader)
                {
                    throw ErrorMapping.Create(e.Code, e.Message);
                }

                await responseStream.WriteAsync(new LeaseKeepAliveResponse { Header = node.Header(node.Store.Revision), ID = id, TTL = ttl }, linked.Token);
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // Client gone or member stopping.
        }
        catch (IOException)
        {
            // The request stream was aborted: the client reset it or closed its connection (Kestrel aborts the open
            // streams before it answers the close with GOAWAY). Nobody is left to answer; not a failure of ours.
        }
    }
}

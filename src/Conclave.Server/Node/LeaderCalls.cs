using Conclave.Api.Errors;
using Conclave.Cluster;
using Conclave.Cluster.Peers;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Node;

/// <summary>
/// Requests only the leader answers, made on any member: here when this member leads, else sent to the leader on the
/// peer listener's request channel (<see cref="ILeaderRequests"/>) as the protobuf message the etcd service would take,
/// answered with the message it would return. Nothing of this reaches the client port: a member never calls another
/// member's client URL for it, and the client port serves no request that trusts its caller.
/// </summary>
internal static class LeaderCalls
{
    /// <summary>Lease keep-alives (conclave.cluster.v1.LeaseRenewRequest / LeaseRenewResponse).</summary>
    public const string LeaseRenew = "lease.renew";

    /// <summary>etcd's LeaseTimeToLive: only the leader's clock knows how long a lease has left.</summary>
    public const string LeaseTimeToLive = "etcd.lease.time-to-live";

    public const string MemberAdd = "etcd.member.add";

    public const string MemberRemove = "etcd.member.remove";

    public const string MemberPromote = "etcd.member.promote";

    /// <summary>
    /// Runs <paramref name="local"/> when this member leads, else sends <paramref name="request"/> to the leader. A
    /// member asked that does not lead (yet, or any more) changed nothing; that is retried for up to
    /// <paramref name="retryFor"/> (zero: not retried).
    /// </summary>
    public static async Task<TResponse> OnLeaderAsync<TResponse>(
        ConclaveNode node, string kind, IMessage request, MessageParser<TResponse> parser, Func<CancellationToken, Task<TResponse>> local,
        TimeSpan retryFor, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        var clock = node.Options.TimeProvider;
        var started = clock.GetTimestamp();
        var bytes = request.ToByteArray();
        while (true)
        {
            try
            {
                var answer = await node.Consensus.LeaderRequests.SendToLeaderAsync(kind, bytes, cancellationToken);
                if (answer is null)
                {
                    return await local(cancellationToken);
                }

                try
                {
                    return parser.ParseFrom(answer.Value.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderUnreachable, $"The leader answered a {kind} request with bytes that do not parse: {e.Message}", e);
                }
            }
            catch (Exception e) when (clock.GetElapsedTime(started) < retryFor && NothingChanged(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), clock, cancellationToken);
            }
            catch (PeerRequestException e)
            {
                throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderUnreachable, e.Message, e, notApplied: !e.Sent);
            }
        }
    }

    /// <summary>The member asked did not lead, or was never reached: nothing was done, asking again is safe.</summary>
    public static bool NothingChanged(Exception e) => e switch
    {
        ConsensusUnavailableException u => u.NotApplied,
        PeerRequestException p => !p.Sent,
        ConclaveErrorException c => c.Code is ErrorCode.NotLeader or ErrorCode.NoLeader,
        RpcException r => r.Trailers.GetValue(ErrorCatalogue.NotAppliedTrailer) == "true",
        _ => false,
    };

    /// <summary>
    /// Serves requests of <paramref name="kind"/> that followers send this member: only while it leads ("not the
    /// leader", nothing done, otherwise: the follower asks the next leader, never this member forwarding again).
    /// Errors the etcd edge would answer travel as <see cref="ConclaveErrorException"/> and are answered by the
    /// follower's edge as this member's would have been.
    /// </summary>
    public static void Handle<TRequest>(ConclaveNode node, string kind, MessageParser<TRequest> parser, Func<TRequest, CancellationToken, Task<IMessage>> serve)
        where TRequest : IMessage<TRequest>
    {
        node.Consensus.LeaderRequests.Handle(kind, async (bytes, cancellationToken) =>
        {
            if (!node.Consensus.IsLeader)
            {
                throw new ConsensusUnavailableException(ConsensusUnavailableReason.NotLeader, "This member is not the leader.", notApplied: true);
            }

            TRequest request;
            try
            {
                request = parser.ParseFrom(bytes.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new ArgumentException($"a {kind} request that does not parse: {e.Message}", e);
            }

            try
            {
                return (await serve(request, cancellationToken)).ToByteArray();
            }
            catch (RpcException e) when (ErrorCatalogue.Parse(e.Trailers.GetValue(ErrorCatalogue.CodeTrailer)) is { } code)
            {
                throw new ConclaveErrorException(code, e.Trailers.GetValue(ErrorCatalogue.DetailTrailer) ?? e.Status.Detail);
            }
        });
    }
}

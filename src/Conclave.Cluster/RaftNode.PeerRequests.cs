using System.Buffers.Binary;
using System.Net;
using Conclave.Cluster.Peers;
using Google.Protobuf;

namespace Conclave.Cluster;

/// <summary>
/// Both sides of the requests members send each other on the peer listener's request channel (ADR 0013): forwarded
/// proposal batches, read indexes, removal notices, configuration queries and the application's requests to the leader.
/// </summary>
public sealed partial class RaftNode
{
    /// <inheritdoc />
    public ILeaderRequests LeaderRequests => leaderRequests;

    /// <summary>This member's connections to other members' request channels (tests drop them).</summary>
    internal PeerRequestClients RequestClients => requestClients;

    /// <inheritdoc />
    public async ValueTask<long?> LeaderCommitIndexAsync(CancellationToken cancellationToken)
    {
        if (isLearner)
        {
            throw NotForLearner("read indexes");
        }

        var leader = await link.WaitForLeaderAsync(cancellationToken).ConfigureAwait(false);
        if (link.IsLocal(leader))
        {
            return null;
        }

        return (await ReadIndexAsync(requestClients, leader.EndPoint, topology.Local.Id, cancellationToken).ConfigureAwait(false)).CommitIndex;
    }

    /// <summary>Forwards a proposal batch to the leader at <paramref name="leader"/>; returns once it is committed there.</summary>
    internal static async Task ProposeAsync(PeerRequestClients clients, EndPoint leader, ulong fromMember, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, fromMember);
        await clients.For(leader).SendAsync(PeerRequestKind.Propose, head, batch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Raft's ReadIndex: the leader at <paramref name="leader"/> confirms its quorum and answers its commit index.</summary>
    internal static async Task<(long CommitIndex, ulong Term)> ReadIndexAsync(PeerRequestClients clients, EndPoint leader, ulong fromMember, CancellationToken cancellationToken)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, fromMember);
        var answer = await clients.For(leader).SendAsync(PeerRequestKind.ReadIndex, head, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (answer.Length != 16)
        {
            throw new PeerRequestException($"The member at {leader} answered a read index of {answer.Length} bytes.", sent: true);
        }

        return (BinaryPrimitives.ReadInt64LittleEndian(answer), BinaryPrimitives.ReadUInt64LittleEndian(answer.AsSpan(8)));
    }

    private async Task NotifyRemovedAsync(EndPoint member, ulong memberId, CancellationToken cancellationToken)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, memberId);
        await requestClients.For(member).SendAsync(PeerRequestKind.Removed, head, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Api.ClusterInternal.ConfigurationResponse> AskConfigurationAsync(EndPoint member, CancellationToken cancellationToken)
    {
        var answer = await requestClients.For(member).SendAsync(PeerRequestKind.Configuration, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            return Api.ClusterInternal.ConfigurationResponse.Parser.ParseFrom(answer);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PeerRequestException($"The member at {member} answered a configuration that does not parse.", sent: true, e);
        }
    }

    /// <summary>Serves one request from another member (see <see cref="PeerRequestKind"/> for the payloads).</summary>
    private async ValueTask<ReadOnlyMemory<byte>> ServePeerRequestAsync(PeerRequestKind kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        switch (kind)
        {
            case PeerRequestKind.Propose:
            {
                if (payload.Length < 8)
                {
                    throw new ArgumentException("a forwarded batch without its origin");
                }

                await AppendForwardedAsync(BinaryPrimitives.ReadUInt64LittleEndian(payload.Span), payload[8..], cancellationToken).ConfigureAwait(false);
                var answer = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(answer, Term);
                return answer;
            }

            case PeerRequestKind.ReadIndex:
            {
                var index = await ConfirmLeadershipAsync(cancellationToken).ConfigureAwait(false);
                var answer = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(answer, index);
                BinaryPrimitives.WriteUInt64LittleEndian(answer.AsSpan(8), Term);
                return answer;
            }

            case PeerRequestKind.Removed:
                if (payload.Length != 8)
                {
                    throw new ArgumentException($"a removal notice of {payload.Length} bytes");
                }

                if (BinaryPrimitives.ReadUInt64LittleEndian(payload.Span) == topology.Local.Id)
                {
                    await ConfirmRemovedAsync(cancellationToken).ConfigureAwait(false);
                }

                return ReadOnlyMemory<byte>.Empty;
            case PeerRequestKind.Configuration:
                return DescribeConfiguration().ToByteArray();
            case PeerRequestKind.Follow:
            {
                Api.ClusterInternal.FollowRequest request;
                try
                {
                    request = Api.ClusterInternal.FollowRequest.Parser.ParseFrom(payload.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    throw new ArgumentException("a feed request that does not parse", e);
                }

                return (await learnerFeed.ServeAsync(request, cancellationToken).ConfigureAwait(false)).ToByteArray();
            }

            case PeerRequestKind.Role:
                if (payload.Length != 8)
                {
                    throw new ArgumentException($"a role request of {payload.Length} bytes");
                }

                return DescribeRole(BinaryPrimitives.ReadUInt64LittleEndian(payload.Span)).ToByteArray();
            case PeerRequestKind.Join:
            {
                if (payload.Length is 0 or > 1024)
                {
                    throw new ArgumentException($"a join request of {payload.Length} bytes");
                }

                var peerUrl = System.Text.Encoding.UTF8.GetString(payload.Span);
                await AddMemberAsync(peerUrl, isLearner: false, cancellationToken).ConfigureAwait(false);
                return ReadOnlyMemory<byte>.Empty;
            }

            case PeerRequestKind.Application:
                return await leaderRequests.ServeAsync(payload, cancellationToken).ConfigureAwait(false);
            default:
                throw new NotSupportedException($"request kind {(ushort)kind}");
        }
    }
}

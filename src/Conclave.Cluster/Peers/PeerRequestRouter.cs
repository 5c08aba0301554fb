using System.Buffers.Binary;
using Conclave.Api.ClusterInternal;
using Google.Protobuf;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The answering side of the requests members send each other on the peer listener's request channel (ADR 0013):
/// decodes each kind's payload (see <see cref="PeerRequestKind"/>), refuses malformed ones as bad requests, and hands
/// them to the part that answers them. <see cref="MemberRequests"/> is the sending side.
/// </summary>
internal sealed class PeerRequestRouter(
    ClusterTopology topology,
    ClusterView view,
    MemberStanding standing,
    LearnerFollower follower,
    FollowerRequests followers,
    MembershipChanges membership,
    LeaderRequests application,
    SnapshottingStateMachine snapshots,
    Func<ulong> term)
{
    /// <summary>The longest peer URL a <see cref="PeerRequestKind.Join"/> request may carry.</summary>
    public const int MaxJoinUrlBytes = 1024;

    private static readonly byte[] Held = [1];
    private static readonly byte[] NotHeld = [0];

    /// <summary>Serves one request from another member.</summary>
    /// <exception cref="ArgumentException">The request is malformed (answered as a bad request).</exception>
    public async ValueTask<ReadOnlyMemory<byte>> ServeAsync(PeerRequestKind kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        switch (kind)
        {
            case PeerRequestKind.Propose:
            {
                if (payload.Length < 8)
                {
                    throw new ArgumentException("a forwarded batch without its origin");
                }

                await followers.AppendForwardedAsync(BinaryPrimitives.ReadUInt64LittleEndian(payload.Span), payload[8..], cancellationToken).ConfigureAwait(false);
                var answer = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(answer, term());
                return answer;
            }

            case PeerRequestKind.ReadIndex:
            {
                var index = await followers.ConfirmLeadershipAsync(cancellationToken).ConfigureAwait(false);
                var answer = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(answer, index);
                BinaryPrimitives.WriteUInt64LittleEndian(answer.AsSpan(8), term());
                return answer;
            }

            case PeerRequestKind.Removed:
                if (payload.Length != 8)
                {
                    throw new ArgumentException($"a removal notice of {payload.Length} bytes");
                }

                if (BinaryPrimitives.ReadUInt64LittleEndian(payload.Span) == topology.Local.Id)
                {
                    await standing.ConfirmRemovedAsync(term(), cancellationToken).ConfigureAwait(false);
                }

                return ReadOnlyMemory<byte>.Empty;
            case PeerRequestKind.Configuration:
                return DescribeConfiguration().ToByteArray();
            case PeerRequestKind.Follow:
            {
                FollowRequest request;
                try
                {
                    request = FollowRequest.Parser.ParseFrom(payload.Span);
                }
                catch (InvalidProtocolBufferException e)
                {
                    throw new ArgumentException("a feed request that does not parse", e);
                }

                return (await membership.Feed.ServeAsync(request, cancellationToken).ConfigureAwait(false)).ToByteArray();
            }

            case PeerRequestKind.Role:
                if (payload.Length != 8)
                {
                    throw new ArgumentException($"a role request of {payload.Length} bytes");
                }

                return membership.DescribeRole(BinaryPrimitives.ReadUInt64LittleEndian(payload.Span)).ToByteArray();
            case PeerRequestKind.Join:
            {
                if (payload.Length is 0 or > MaxJoinUrlBytes)
                {
                    throw new ArgumentException($"a join request of {payload.Length} bytes");
                }

                var peerUrl = System.Text.Encoding.UTF8.GetString(payload.Span);
                await membership.AddMemberAsync(peerUrl, isLearner: false, cancellationToken).ConfigureAwait(false);
                return ReadOnlyMemory<byte>.Empty;
            }

            case PeerRequestKind.HoldSnapshot:
                if (payload.Length != SnapshotDescriptor.Size || !SnapshotDescriptor.IsDescriptor(payload.Span))
                {
                    throw new ArgumentException($"a hold request of {payload.Length} bytes that is not a snapshot descriptor");
                }

                return snapshots.Hold(SnapshotDescriptor.Parse(payload.Span)) ? Held : NotHeld;
            case PeerRequestKind.Application:
                return await application.ServeAsync(payload, cancellationToken).ConfigureAwait(false);
            default:
                throw new NotSupportedException($"request kind {(ushort)kind}");
        }
    }

    /// <summary>This member's view of the configuration, for a peer confirming its own removal.</summary>
    private ConfigurationResponse DescribeConfiguration()
    {
        var response = new ConfigurationResponse
        {
            MemberId = topology.Local.Id,
            IsLeader = view.IsLeader && !follower.IsLearner,
            Term = term(),
            ClusterId = standing.ClusterId,
        };
        response.MemberIds.AddRange(view.ConfiguredMembers().Select(static m => ClusterTopology.MemberId(m.EndPoint)));
        return response;
    }
}

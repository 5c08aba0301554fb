using System.Buffers.Binary;
using System.Net;
using Conclave.Api.ClusterInternal;
using Google.Protobuf;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The sending side of each request kind a member sends another (see <see cref="PeerRequestKind"/> for the payloads);
/// <see cref="PeerRequestRouter"/> is the answering side.
/// </summary>
internal static class MemberRequests
{
    /// <summary>Forwards a proposal batch to the leader at <paramref name="leader"/>; returns once it is committed there.</summary>
    public static async Task ProposeAsync(this PeerRequestClients clients, EndPoint leader, ulong fromMember, ReadOnlyMemory<byte> batch, CancellationToken cancellationToken)
    {
        await clients.For(leader).SendAsync(PeerRequestKind.Propose, MemberId(fromMember), batch, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Raft's ReadIndex: the leader at <paramref name="leader"/> confirms its quorum and answers its commit index.</summary>
    public static async Task<(long CommitIndex, ulong Term)> ReadIndexAsync(this PeerRequestClients clients, EndPoint leader, ulong fromMember, CancellationToken cancellationToken)
    {
        var answer = await clients.For(leader).SendAsync(PeerRequestKind.ReadIndex, MemberId(fromMember), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        if (answer.Length != 16)
        {
            throw new PeerRequestException($"The member at {leader} answered a read index of {answer.Length} bytes.", sent: true);
        }

        return (BinaryPrimitives.ReadInt64LittleEndian(answer), BinaryPrimitives.ReadUInt64LittleEndian(answer.AsSpan(8)));
    }

    /// <summary>Tells the member at <paramref name="member"/> that it was removed (it checks with the members it knows).</summary>
    public static async Task NotifyRemovedAsync(this PeerRequestClients clients, EndPoint member, ulong memberId, CancellationToken cancellationToken)
    {
        await clients.For(member).SendAsync(PeerRequestKind.Removed, MemberId(memberId), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The configuration as the member at <paramref name="member"/> sees it.</summary>
    public static async Task<ConfigurationResponse> AskConfigurationAsync(this PeerRequestClients clients, EndPoint member, CancellationToken cancellationToken)
    {
        var answer = await clients.For(member).SendAsync(PeerRequestKind.Configuration, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty, cancellationToken)
            .ConfigureAwait(false);
        return Parse(ConfigurationResponse.Parser, answer, member, "a configuration");
    }

    /// <summary>How the member at <paramref name="member"/> lists member <paramref name="memberId"/>.</summary>
    public static async Task<RoleResponse> AskRoleAsync(this PeerRequestClients clients, EndPoint member, ulong memberId, CancellationToken cancellationToken)
    {
        var answer = await clients.For(member).SendAsync(PeerRequestKind.Role, MemberId(memberId), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return Parse(RoleResponse.Parser, answer, member, "a role");
    }

    /// <summary>Asks the leader at <paramref name="leader"/> to continue adding the joining member at <paramref name="peerUrl"/>.</summary>
    public static async Task JoinAsync(this PeerRequestClients clients, EndPoint leader, string peerUrl, CancellationToken cancellationToken)
    {
        await clients.For(leader).SendAsync(PeerRequestKind.Join, System.Text.Encoding.UTF8.GetBytes(peerUrl), ReadOnlyMemory<byte>.Empty, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Asks the member at <paramref name="member"/> to keep the image <paramref name="snapshot"/> names; true when it holds it.</summary>
    public static async Task<bool> HoldSnapshotAsync(this PeerRequestClients clients, EndPoint member, SnapshotDescriptor snapshot, CancellationToken cancellationToken)
    {
        var payload = new byte[SnapshotDescriptor.Size];
        snapshot.Write(payload);
        var answer = await clients.For(member).SendAsync(PeerRequestKind.HoldSnapshot, payload, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return answer is [1];
    }

    /// <summary>One feed request of a learner; the answer is not parsed here (see the learner's own checks).</summary>
    public static async Task<byte[]> FollowAsync(this PeerRequestClient client, FollowRequest request, CancellationToken cancellationToken) =>
        await client.SendAsync(PeerRequestKind.Follow, request.ToByteArray(), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);

    private static byte[] MemberId(ulong id)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(head, id);
        return head;
    }

    private static T Parse<T>(MessageParser<T> parser, byte[] answer, EndPoint member, string what)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(answer);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PeerRequestException($"The member at {member} answered {what} that does not parse.", sent: true, e);
        }
    }
}

using System.Buffers.Binary;
using System.Text;
using Conclave.Api.Errors;

namespace Conclave.Cluster.Peers;

/// <summary>
/// The payload of an error answer: <c>error u8 | flags u8 (bit 0: not applied) | code u16 | message (UTF-8)</c>. It
/// carries what the failure means for the caller, as the exception the server side threw, so the caller throws the same
/// type: <see cref="ConsensusUnavailableException"/> (its reason and whether nothing was applied), an
/// <see cref="ArgumentException"/> (refused: the request itself is bad, no member would take it),
/// <see cref="ConclaveErrorException"/> (its code) or <see cref="MembershipException"/>.
/// </summary>
internal static class PeerRequestError
{
    /// <summary>Longest message carried (longer ones are cut).</summary>
    public const int MaxMessageBytes = 1024;

    private const int HeaderSize = 4;

    private enum Kind : byte
    {
        /// <summary>Anything else: the server failed; the outcome is unknown.</summary>
        Failed = 0,
        Unavailable = 1,
        Refused = 2,
        Conclave = 3,
        Membership = 4,
        UnknownKind = 5,
    }

    /// <summary>An answer for a request kind the server does not know (nothing was done).</summary>
    public static byte[] UnknownKind(string what) => Encode(Kind.UnknownKind, notApplied: true, 0, what);

    public static byte[] Encode(Exception e) => e switch
    {
        ConsensusUnavailableException u => Encode(Kind.Unavailable, u.NotApplied, (ushort)u.Reason, u.Message),
        ArgumentException a => Encode(Kind.Refused, notApplied: true, 0, a.Message),
        ConclaveErrorException c => Encode(Kind.Conclave, notApplied: false, (ushort)c.Code, c.Message),
        MembershipException m => Encode(Kind.Membership, notApplied: false, (ushort)m.Error, m.Message),
        NotSupportedException n => Encode(Kind.UnknownKind, notApplied: true, 0, n.Message),
        OperationCanceledException => Encode(Kind.Unavailable, notApplied: false, (ushort)ConsensusUnavailableReason.Stopping, "The member answering stopped before the request finished; its outcome is unknown."),
        _ => Encode(Kind.Failed, notApplied: false, 0, e.GetType().Name + ": " + e.Message),
    };

    private static byte[] Encode(Kind kind, bool notApplied, ushort code, string message)
    {
        var text = Encoding.UTF8.GetBytes(message);
        var length = Math.Min(text.Length, MaxMessageBytes);
        var bytes = new byte[HeaderSize + length];
        bytes[0] = (byte)kind;
        bytes[1] = notApplied ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2), code);
        text.AsSpan(0, length).CopyTo(bytes.AsSpan(HeaderSize));
        return bytes;
    }

    /// <summary>The exception an error answer stands for, thrown on the caller's side.</summary>
    public static Exception Decode(ReadOnlySpan<byte> payload, string peer)
    {
        if (payload.Length < HeaderSize || payload.Length > HeaderSize + MaxMessageBytes)
        {
            return new PeerRequestException($"The member at {peer} answered an error that is not one ({payload.Length} bytes); the outcome is unknown.", sent: true);
        }

        var notApplied = (payload[1] & 1) != 0;
        var code = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        var message = Encoding.UTF8.GetString(payload[HeaderSize..]);
        return (Kind)payload[0] switch
        {
            Kind.Unavailable when Enum.IsDefined((ConsensusUnavailableReason)code) =>
                new ConsensusUnavailableException((ConsensusUnavailableReason)code, message, notApplied: notApplied),
            Kind.Refused => new ArgumentException(message),
            Kind.Conclave when Enum.IsDefined((ErrorCode)code) => new ConclaveErrorException((ErrorCode)code, message),
            Kind.Membership when Enum.IsDefined((MembershipError)code) => new MembershipException((MembershipError)code, message),
            Kind.UnknownKind => new PeerRequestException($"The member at {peer} does not serve this request ({message}); nothing was done.", sent: false),
            _ => new PeerRequestException($"The member at {peer} failed: {message}", sent: true),
        };
    }
}

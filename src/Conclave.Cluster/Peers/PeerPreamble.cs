namespace Conclave.Cluster.Peers;

/// <summary>
/// The 8 bytes every connection to the peer listener starts with: "CNCL", the channel, the protocol version and two
/// reserved zero bytes. One peer port carries all of Conclave's member-to-member protocols, and anything that does not
/// open with this preamble (a stray client, a scanner, an etcd client pointed at the wrong port) is closed unread.
/// </summary>
internal static class PeerPreamble
{
    public const int Length = 8;

    /// <summary>Version of the peer protocol this build speaks; a peer that sends another is refused.</summary>
    public const byte Version = 1;

    public static byte[] For(PeerChannel channel) => [(byte)'C', (byte)'N', (byte)'C', (byte)'L', (byte)channel, Version, 0, 0];

    /// <summary>Reads a preamble; false when the bytes are not one this build accepts.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out PeerChannel channel, out byte version)
    {
        channel = default;
        version = 0;
        if (bytes.Length != Length || !bytes[..4].SequenceEqual("CNCL"u8) || bytes[6] != 0 || bytes[7] != 0)
        {
            return false;
        }

        version = bytes[5];
        channel = (PeerChannel)bytes[4];
        return version == Version && channel is PeerChannel.Raft or PeerChannel.Snapshot or PeerChannel.Requests;
    }
}

namespace Conclave.Cluster.Peers;

/// <summary>What a connection to the peer listener carries, named by the first bytes the caller sends.</summary>
public enum PeerChannel : byte
{
    /// <summary>Raft's own protocol (DotNext's messages: votes, AppendEntries, snapshots, metadata).</summary>
    Raft = (byte)'R',

    /// <summary>HTTP/2 with gRPC: conclave.cluster.v1.Forwarding (forwarded proposals, read index, lease renewals, the learner feed, removal notices).</summary>
    Grpc = (byte)'G',

    /// <summary>A snapshot image fetched by a lagging member (<see cref="SnapshotTransfer"/>, ADR 0010): one fetch per connection.</summary>
    Snapshot = (byte)'S',
}

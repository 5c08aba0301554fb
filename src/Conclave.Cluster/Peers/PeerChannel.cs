namespace Conclave.Cluster.Peers;

/// <summary>What a connection to the peer listener carries, named by the first bytes the caller sends.</summary>
public enum PeerChannel : byte
{
    /// <summary>Raft's own protocol (DotNext's messages: votes, AppendEntries, snapshots, metadata).</summary>
    Raft = (byte)'R',

    /// <summary>HTTP/2 with gRPC: conclave.cluster.v1.Forwarding, now only the learner feed (Follow).</summary>
    Grpc = (byte)'G',

    /// <summary>A snapshot image fetched by a lagging member (<see cref="SnapshotTransfer"/>, ADR 0010): one fetch per connection.</summary>
    Snapshot = (byte)'S',

    /// <summary>
    /// Requests to another member and their answers (<see cref="PeerRequestServer"/>, ADR 0013): forwarded proposal
    /// batches, read indexes, removal notices, configuration queries and the application's requests to the leader,
    /// multiplexed on one persistent connection per peer.
    /// </summary>
    Requests = (byte)'Q',
}

namespace Conclave.Cluster.Peers;

/// <summary>
/// What a connection to the peer listener carries, named by the first bytes the caller sends. ('G', HTTP/2 with gRPC,
/// carried the learner feed until ADR 0013 moved it onto the request channel; it is refused now.)
/// </summary>
public enum PeerChannel : byte
{
    /// <summary>Raft's own protocol (DotNext's messages: votes, AppendEntries, snapshots, metadata).</summary>
    Raft = (byte)'R',

    /// <summary>A snapshot image fetched by a lagging member (<see cref="SnapshotTransfer"/>, ADR 0010): one fetch per connection.</summary>
    Snapshot = (byte)'S',

    /// <summary>
    /// Requests to another member and their answers (<see cref="PeerRequestServer"/>, ADR 0013): forwarded proposal
    /// batches, read indexes, removal notices, configuration and role queries, learners' feeds, hand-overs of joining
    /// members and the application's requests to the leader,
    /// multiplexed on one persistent connection per peer.
    /// </summary>
    Requests = (byte)'Q',
}

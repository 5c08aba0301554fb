namespace Conclave.Cluster.Peers;

/// <summary>What a request on the request channel asks for (the header's kind; ADR 0013).</summary>
internal enum PeerRequestKind : ushort
{
    /// <summary>Append a follower's proposal batch: <c>from member u64 | CommandBatch bytes</c>; answer <c>term u64</c>.</summary>
    Propose = 1,

    /// <summary>Raft's ReadIndex: <c>from member u64</c>; answer <c>commit index i64 | term u64</c>.</summary>
    ReadIndex = 2,

    /// <summary>The leader tells a member it removed: <c>member id u64</c>; empty answer.</summary>
    Removed = 3,

    /// <summary>This member's view of the configuration: empty; answer a <c>conclave.cluster.v1.ConfigurationResponse</c>.</summary>
    Configuration = 4,

    /// <summary>
    /// A learner's feed (leader only): a <c>conclave.cluster.v1.FollowRequest</c>; answer a <c>FollowResponse</c> (the
    /// next committed entries, a snapshot descriptor, a heartbeat, or "promoted").
    /// </summary>
    Follow = 5,

    /// <summary>How a member is listed (asked of any member by one started to join): <c>member id u64</c>; answer a <c>conclave.cluster.v1.RoleResponse</c>.</summary>
    Role = 6,

    /// <summary>
    /// Leader only: continue adding a joining voting member that a leader which stepped down was adding:
    /// <c>peer URL (UTF-8)</c>; empty answer.
    /// </summary>
    Join = 7,

    /// <summary>
    /// A member fetching a snapshot image asks the other members to keep it if they hold the same image (and the log
    /// after it), so that a leader elected during the fetch offers that image and the fetch continues (ADR 0010): a
    /// <c>SnapshotDescriptor</c> (56 bytes); answer <c>held u8</c> (1 when this member holds and keeps it).
    /// </summary>
    HoldSnapshot = 8,

    /// <summary>
    /// A request of the application on the leader (<see cref="ILeaderRequests"/>): <c>name length u8 | name (ASCII) | body</c>;
    /// the answer is the handler's bytes.
    /// </summary>
    Application = 16,
}

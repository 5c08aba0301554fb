namespace Conclave.Cluster;

/// <summary>
/// Why consensus could not serve a request (<see cref="ConsensusUnavailableException.Reason"/>). The server's edge maps
/// each to etcd's status and text in one table; the reason, not the message, decides what a caller is told.
/// </summary>
public enum ConsensusUnavailableReason
{
    /// <summary>No leader is known (an election is under way, or this member is cut off from a majority).</summary>
    NoLeader,

    /// <summary>A leader is known but could not be reached, or could not say where it serves.</summary>
    LeaderUnreachable,

    /// <summary>This member is not the leader, and the request is one only the leader serves.</summary>
    NotLeader,

    /// <summary>Leadership changed while the request was in flight (this member lost it, or stepped aside).</summary>
    LeaderChanged,

    /// <summary>A proposal (or a membership change) was not committed in time; its outcome is unknown.</summary>
    ProposalTimedOut,

    /// <summary>A read barrier did not complete in time.</summary>
    ReadTimedOut,

    /// <summary>This member is stopping.</summary>
    Stopping,

    /// <summary>This member cannot write its log (an I/O failure); it takes no more writes until restarted.</summary>
    LogWriteFailed,

    /// <summary>This member cannot write its log because its disk is full.</summary>
    DiskFull,

    /// <summary>The state machine failed to apply a committed entry; this member stopped applying.</summary>
    ApplyFailed,
}

namespace Conclave.Client;

/// <summary>Status of one cluster member, as reported by the member itself.</summary>
/// <param name="Endpoint">The endpoint that answered.</param>
/// <param name="MemberId">ID of the member that answered.</param>
/// <param name="ClusterId">ID of the cluster.</param>
/// <param name="Version">Server version.</param>
/// <param name="DbSize">Size of the backing store in bytes.</param>
/// <param name="DbSizeInUse">Bytes of the backing store in logical use.</param>
/// <param name="Leader">Member ID of the current leader; zero when there is none.</param>
/// <param name="RaftIndex">Current consensus log index of the member.</param>
/// <param name="RaftTerm">Current consensus term.</param>
/// <param name="RaftAppliedIndex">Log index applied to the state machine.</param>
/// <param name="Revision">Current keyspace revision.</param>
/// <param name="IsLearner">Whether the member is a non-voting learner.</param>
/// <param name="Errors">Alarm and health errors the member reports.</param>
public sealed record EndpointStatus(
    string Endpoint,
    ulong MemberId,
    ulong ClusterId,
    string Version,
    long DbSize,
    long DbSizeInUse,
    ulong Leader,
    ulong RaftIndex,
    ulong RaftTerm,
    ulong RaftAppliedIndex,
    long Revision,
    bool IsLearner,
    IReadOnlyList<string> Errors)
{
    /// <summary>Whether the member that answered is the leader.</summary>
    public bool IsLeader => Leader != 0 && Leader == MemberId;
}

namespace Conclave.Cluster;

/// <summary>
/// Faults a test injects into a member (<see cref="RaftNodeOptions.Faults"/>), to reach interleavings that real
/// failures produce only rarely. A member started without it (every member outside the tests) has none. The test keeps
/// the instance and switches faults on while the member runs.
/// </summary>
public sealed class ClusterFaults
{
    private volatile bool losePromotedAnswers;
    private long promotedAnswerDelayTicks;
    private long handOverDelayTicks;
    private long snapshotServeBytesPerSecond;
    private long snapshotsGoneThrough;

    /// <summary>
    /// As the leader, hand a promoted learner over to Raft without telling it (its feed answer fails instead), as an
    /// answer lost with a dying connection or leader would be. The learner must find out from how it is listed.
    /// </summary>
    public bool LosePromotedAnswers
    {
        get => losePromotedAnswers;
        set => losePromotedAnswers = value;
    }

    /// <summary>
    /// As a learner, take this long to act on a "promoted" answer, as a busy member would. MemberPromote must still not
    /// return before this member has left learner mode.
    /// </summary>
    public TimeSpan PromotedAnswerDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref promotedAnswerDelayTicks));
        set => Interlocked.Exchange(ref promotedAnswerDelayTicks, value.Ticks);
    }

    /// <summary>
    /// As the leader, resume this late after a promoted learner said it left learner mode, as a busy leader would (the
    /// promotion must hold meanwhile).
    /// </summary>
    public TimeSpan HandOverDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref handOverDelayTicks));
        set => Interlocked.Exchange(ref handOverDelayTicks, value.Ticks);
    }

    /// <summary>
    /// Serve snapshot images to fetching members at most this fast (0: no limit), as a slow disk or network would, so a
    /// test can fail a member while a fetch is under way.
    /// </summary>
    public long SnapshotServeBytesPerSecond
    {
        get => Interlocked.Read(ref snapshotServeBytesPerSecond);
        set => Interlocked.Exchange(ref snapshotServeBytesPerSecond, Math.Max(0, value));
    }

    /// <summary>
    /// As a snapshot source, answer a fetch of an image at or below this index as no longer held (0: none), as a member
    /// that took a newer snapshot and deleted the image between describing it and the fetch would.
    /// </summary>
    public long SnapshotsGoneThrough
    {
        get => Interlocked.Read(ref snapshotsGoneThrough);
        set => Interlocked.Exchange(ref snapshotsGoneThrough, Math.Max(0, value));
    }
}

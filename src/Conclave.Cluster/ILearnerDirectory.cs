namespace Conclave.Cluster;

/// <summary>
/// Which members are learners: replicated state kept in the system keyspace (<see cref="RecordedMembership"/>) (DotNext's configuration holds only voting
/// members, so a learner is not in it; ADR 0013). The consensus asks it to admit a learner's feed and to tell a member
/// started to join how it is listed.
/// </summary>
public interface ILearnerDirectory
{
    /// <summary>Whether member <paramref name="memberId"/> is recorded as a learner (this member's applied state).</summary>
    bool IsLearner(ulong memberId);

    /// <summary>
    /// On the leader, when a learner's feed starts and whenever the learner reports another listing: records how the
    /// learner is listed (its name and client URLs) if that changed; refuses a member that is not recorded as a learner
    /// (<see cref="MembershipException"/> with <see cref="MembershipError.NotFound"/>). Every request of the feed is
    /// checked with <see cref="IsLearner"/>.
    /// </summary>
    ValueTask AdmitAsync(LearnerInfo learner, CancellationToken cancellationToken);
}

/// <summary>A learner as it describes itself when it asks for its feed.</summary>
public sealed record LearnerInfo(ulong Id, string Name, IReadOnlyList<string> ClientUrls);

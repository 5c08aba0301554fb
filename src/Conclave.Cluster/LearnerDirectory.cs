namespace Conclave.Cluster;

/// <summary>
/// The consensus' view of the learner records (<see cref="MemberRecords"/> under <see cref="MemberRecords.LearnersPrefix"/>,
/// in the system keyspace): who may follow the leader's log as a learner, and how it is listed.
/// </summary>
internal sealed class LearnerDirectory(MemberRecords learners) : ILearnerDirectory
{
    public bool IsLearner(ulong memberId) => learners.Find(memberId) is not null;

    public async ValueTask AdmitAsync(LearnerInfo learner, CancellationToken cancellationToken)
    {
        var record = learners.Find(learner.Id)
            ?? throw new MembershipException(MembershipError.NotFound, $"no learner has id {learner.Id:x}");
        if (record.Name != learner.Name || !record.ClientURLs.SequenceEqual(learner.ClientUrls))
        {
            // How the learner is listed: its name and client URLs, as it reports them.
            var updated = record.Clone();
            updated.Name = learner.Name;
            updated.ClientURLs.Clear();
            updated.ClientURLs.AddRange(learner.ClientUrls);
            await learners.PutAsync(updated, createOnly: false, cancellationToken).ConfigureAwait(false);
        }
    }
}

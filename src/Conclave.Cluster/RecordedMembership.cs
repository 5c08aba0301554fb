using Conclave.Api.Etcd;
using Conclave.Storage;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// The membership etcd's Cluster service shows and changes: the Raft configuration (<see cref="IMembership"/>) plus what
/// it cannot hold, recorded in the system keyspace (<see cref="MemberRecords"/>): learners, and voting members added but
/// not joined yet. Each change writes, hands over and clears those records in the order that keeps them true; on the
/// leader, <see cref="JoiningKeeper"/> finishes what a failed leader or a caller that gave up left. The server adapts it to
/// etcd's Cluster service (on the leader; followers pass the request on); nothing here is gRPC.
/// </summary>
public sealed class RecordedMembership : IAsyncDisposable
{
    private readonly IConsensus consensus;
    private readonly MemberRecords learners;
    private readonly MemberRecords joining;
    private readonly JoiningKeeper keeper;

    /// <summary>
    /// Serves learners from the records in <paramref name="store"/> (the state <paramref name="consensus"/> drives) and
    /// starts keeping the records on whichever leadership this member holds.
    /// </summary>
    public RecordedMembership(IConsensus consensus, KeyValueStore store, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(consensus);
        ArgumentNullException.ThrowIfNull(store);
        this.consensus = consensus;
        learners = new MemberRecords(MemberRecords.LearnersPrefix, store, consensus);
        joining = new MemberRecords(MemberRecords.JoiningPrefix, store, consensus);
        consensus.Membership.ServeLearners(new LearnerDirectory(learners));
        keeper = new JoiningKeeper(consensus, joining, learners, time, logger);
    }

    /// <summary>
    /// The members: the Raft configuration's (and those this leader is adding), then recorded learners and recorded
    /// joining members it does not list (Raft's view shadows a record: a learner being promoted is listed once, as the
    /// voter it becomes). Records are read from this member's applied state.
    /// </summary>
    public async ValueTask<IReadOnlyList<MemberInfo>> MembersAsync(CancellationToken cancellationToken)
    {
        var members = new List<MemberInfo>(await consensus.Membership.MembersAsync(cancellationToken).ConfigureAwait(false));
        foreach (var record in learners.List().Concat(joining.List()))
        {
            if (members.All(m => m.Id != record.ID))
            {
                members.Add(ToInfo(record));
            }
        }

        return members;
    }

    /// <summary>The recorded learners, from this member's applied state (no leader asked).</summary>
    public IReadOnlyList<MemberInfo> Learners() => [.. learners.List().Select(ToInfo)];

    /// <summary>
    /// Leader only: adds a member by peer URL. A voting member joins through Raft once it runs; it is recorded as joining
    /// so that the next leader continues if this one fails before it joined. A learner is recorded and follows the log.
    /// </summary>
    /// <exception cref="MembershipException">Bad URL, a member or learner with that peer URL exists, another change in progress.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader, or the record's write failed.</exception>
    public async ValueTask<MemberInfo> AddAsync(string peerUrl, bool isLearner, CancellationToken cancellationToken)
    {
        if (learners.List().Any(m => m.PeerURLs.Contains(peerUrl)))
        {
            throw new MembershipException(MembershipError.PeerUrlExists, $"a learner with peer URL {peerUrl} already exists");
        }

        var added = await consensus.Membership.AddMemberAsync(peerUrl, isLearner, cancellationToken).ConfigureAwait(false);
        var record = new Member { ID = added.Id, IsLearner = isLearner };
        record.PeerURLs.AddRange(added.PeerUrls);
        if (isLearner)
        {
            if (!await learners.PutAsync(record, createOnly: true, cancellationToken).ConfigureAwait(false))
            {
                throw new MembershipException(MembershipError.PeerUrlExists, $"a learner with peer URL {peerUrl} already exists");
            }
        }
        else
        {
            // The leader holds a joining member in memory; the record lets the next leader continue if this one fails
            // before the member joined (JoiningKeeper), and goes once the member is in the configuration.
            await joining.PutAsync(record, createOnly: false, cancellationToken).ConfigureAwait(false);
            keeper.RecordWritten();
        }

        return added;
    }

    /// <summary>
    /// Leader only: removes a member, a member still joining (also one only its record remembers) or a learner (its
    /// record goes, its feed ends, and it finds itself unlisted and stops).
    /// </summary>
    /// <exception cref="MembershipException">No such member, the last member, or another change in progress.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader, or the outcome is unknown.</exception>
    public async ValueTask RemoveAsync(ulong memberId, CancellationToken cancellationToken)
    {
        if (learners.Find(memberId) is not null && !await IsVoterAsync(memberId, cancellationToken).ConfigureAwait(false))
        {
            await learners.DeleteAsync(memberId, cancellationToken).ConfigureAwait(false);
            consensus.Membership.DropFollower(memberId);
            return;
        }

        var record = joining.Find(memberId);
        try
        {
            await consensus.Membership.RemoveMemberAsync(memberId, cancellationToken).ConfigureAwait(false);
        }
        catch (MembershipException e) when (e.Error == MembershipError.NotFound && record is not null)
        {
            // Added, not joined, and forgotten by a leader that failed: the record is all there is.
        }

        if (record is not null)
        {
            await joining.DeleteAsync(memberId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Leader only: turns a recorded learner that follows this leader and holds at least 90% of its log into a voting
    /// member; once the configuration with it is committed, its learner record goes.
    /// </summary>
    /// <exception cref="MembershipException">Not a learner (a voting member, or unknown), not in sync, or another change in progress.</exception>
    /// <exception cref="ConsensusUnavailableException">Not the leader, or the change did not finish in time (the leader keeps trying).</exception>
    public async ValueTask PromoteAsync(ulong memberId, CancellationToken cancellationToken)
    {
        var voter = await IsVoterAsync(memberId, cancellationToken).ConfigureAwait(false);
        var record = learners.Find(memberId);
        if (record is null || voter)
        {
            throw voter
                ? new MembershipException(MembershipError.NotLearner, $"member {memberId:x} is a voting member")
                : new MembershipException(MembershipError.NotFound, $"no member has id {memberId:x}");
        }

        await consensus.Membership.PromoteLearnerAsync(memberId, record.PeerURLs[0], cancellationToken).ConfigureAwait(false);
        // A voting member now (committed): the record goes; until then the voter entry shadows it. If this call gives up
        // first, the keeper deletes it at the configuration change.
        await learners.DeleteAsync(memberId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops keeping the records (before the consensus is disposed).</summary>
    public ValueTask DisposeAsync() => keeper.DisposeAsync();

    private async ValueTask<bool> IsVoterAsync(ulong id, CancellationToken cancellationToken) =>
        (await consensus.Membership.MembersAsync(cancellationToken).ConfigureAwait(false)).Any(m => m.Id == id);

    private static MemberInfo ToInfo(Member record) =>
        new(record.ID, record.Name, [.. record.PeerURLs], [.. record.ClientURLs], record.IsLearner);
}

using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Conclave.Cluster;

/// <summary>
/// How a member reaches the current leader: who it is (from Raft), where it serves (its advertised client URL,
/// learned from the member metadata DotNext exchanges between members), and a signal for "the leader changed" so that
/// waits end as soon as a new leader is known.
/// </summary>
internal sealed class LeaderLink : IAsyncDisposable
{
    /// <summary>Metadata key under which a member advertises its client URLs (comma separated).</summary>
    public const string ClientUrlsKey = "conclave.client-urls";

    /// <summary>Metadata key under which a member advertises its name.</summary>
    public const string NameKey = "conclave.name";

    /// <summary>Member metadata key: the id of the cluster this member belongs to.</summary>
    public const string ClusterIdKey = "conclave.cluster-id";

    private readonly RaftCluster cluster;
    private readonly IPersistentState log;
    private readonly ClusterTopology topology;
    private readonly TimeProvider time;
    private readonly Lock gate = new();
    private TaskCompletionSource changed = NewSignal();
    private long leadershipTerm;

    public LeaderLink(RaftCluster cluster, IPersistentState log, ClusterTopology topology, TimeProvider time)
    {
        this.time = time;
        this.cluster = cluster;
        this.log = log;
        this.topology = topology;
        cluster.LeaderChanged += OnLeaderChanged;
        if (cluster.Leader is { } leader && IsLocal(leader))
        {
            // Became leader before this link existed (a lone member leads as soon as it starts).
            leadershipTerm = log.Term;
        }
    }

    /// <summary>
    /// The term in which this member leads, if it leads now. Entries this member appends must carry it, not the
    /// log's current term: a leader that has just learned of a newer term (e.g. resumed after SIGSTOP) is still in
    /// its leader state for a moment, and an entry stamped with the newer term would pass as the new leader's and
    /// never be replaced, so the logs would diverge.
    /// </summary>
    public bool TryGetLeadershipTerm(out long term)
    {
        term = Volatile.Read(ref leadershipTerm);
        return term != 0 && term == log.Term && !cluster.LeadershipToken.IsCancellationRequested;
    }

    /// <summary>Cancelled when this member's current leadership ends (already cancelled when it does not lead).</summary>
    public CancellationToken LeadershipToken => cluster.LeadershipToken;

    /// <summary>Completes at the next leader change (including "no leader").</summary>
    public Task Changed
    {
        get
        {
            lock (gate)
            {
                return changed.Task;
            }
        }
    }

    /// <summary>The leader this member knows of, or null.</summary>
    public RaftClusterMember? Current => cluster.Leader;

    /// <summary>Waits until some leader is known (or the token ends) and returns it.</summary>
    public async ValueTask<RaftClusterMember> WaitForLeaderAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Changed;
            if (cluster.Leader is { } leader)
            {
                return leader;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the leader is no longer <paramref name="leader"/>.</summary>
    public async ValueTask WaitForChangeFromAsync(RaftClusterMember leader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Changed;
            if (!ReferenceEquals(cluster.Leader, leader))
            {
                return;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until the leader is no longer <paramref name="leader"/> or, when <paramref name="leader"/> is this member,
    /// until it holds its leadership. DotNext names a new leader (and raises LeaderChanged) a moment before its
    /// leadership token is issued, so a request refused in that window must not wait for a leader change that has
    /// already happened: the local case is re-checked every few milliseconds.
    /// </summary>
    public async ValueTask WaitForChangeOrLeadershipAsync(RaftClusterMember leader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Changed;
            if (!ReferenceEquals(cluster.Leader, leader) || (IsLocal(leader) && TryGetLeadershipTerm(out _)))
            {
                return;
            }

            if (IsLocal(leader))
            {
                await Task.WhenAny(signal, Task.Delay(TimeSpan.FromMilliseconds(10), time, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
            else
            {
                await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether <paramref name="member"/> is this member.</summary>
    public bool IsLocal(RaftClusterMember member) => member.IsRemote is false || Equals(member.EndPoint, topology.Local.EndPoint);

    /// <summary>A member's metadata, from DotNext's cache when it has it.</summary>
    public static async ValueTask<IReadOnlyDictionary<string, string>> MetadataAsync(RaftClusterMember member, CancellationToken cancellationToken)
    {
        if (member.TryGetMetadata() is { Count: > 0 } cached)
        {
            return cached;
        }

        try
        {
            return await member.GetMetadataAsync(refresh: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new ConsensusUnavailableException(ConsensusUnavailableReason.LeaderUnreachable, $"The leader at {member.EndPoint} did not say where it serves clients: {e.Message}", e);
        }
    }

    /// <summary>Metadata this member advertises to its peers.</summary>
    public static void Describe(IDictionary<string, string> metadata, TopologyMember local, ulong clusterId)
    {
        metadata[ClusterIdKey] = clusterId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        metadata[NameKey] = local.Name;
        metadata[ClientUrlsKey] = string.Join(',', local.ClientUrls);
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        // Raised as this member takes office, when the log's term is the term it was elected in.
        Volatile.Write(ref leadershipTerm, leader is not null && IsLocal(leader) ? log.Term : 0);
        TaskCompletionSource previous;
        lock (gate)
        {
            previous = changed;
            changed = NewSignal();
        }

        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask DisposeAsync()
    {
        cluster.LeaderChanged -= OnLeaderChanged;
        return ValueTask.CompletedTask;
    }
}

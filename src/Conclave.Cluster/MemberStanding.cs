using Conclave.Cluster.Peers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;

namespace Conclave.Cluster;

/// <summary>
/// This member's own standing: the cluster it belongs to (a member that joined a running cluster takes the id from the
/// first leader it hears from), whether it is in the Raft configuration yet, and whether it was removed (it then stops
/// serving, as etcd's members do).
/// </summary>
internal sealed class MemberStanding : IDisposable
{
    private readonly RaftCluster cluster;
    private readonly LeaderLink link;
    private readonly ClusterTopology topology;
    private readonly PeerRequestClients requests;
    private readonly string dataDirectory;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly CancellationToken stopping;
    private readonly CancellationTokenSource removed = new();
    private ulong clusterId;
    private bool adoptClusterId;
    private bool inConfiguration;
    private int removedMarked;

    /// <param name="clusterId">The persisted cluster id, or null for a member that joins a running cluster and has none yet.</param>
    public MemberStanding(
        RaftCluster cluster, LeaderLink link, ClusterTopology topology, PeerRequestClients requests, string dataDirectory, ulong? clusterId,
        TimeProvider time, ILogger logger, CancellationToken stopping)
    {
        this.cluster = cluster;
        this.link = link;
        this.topology = topology;
        this.requests = requests;
        this.dataDirectory = dataDirectory;
        this.time = time;
        this.logger = logger;
        this.stopping = stopping;
        this.clusterId = clusterId ?? topology.ClusterId;
        adoptClusterId = clusterId is null;
        // A member joining a running cluster is not in its configuration yet: while it catches up it receives the
        // configuration without itself, which is not a removal. It counts as a member once it is added.
        // A learner (see LearnerFollower) is never in the configuration, also after a restart.
        inConfiguration = clusterId is not null && !File.Exists(LearnerMarker);
        cluster.LeaderChanged += OnLeaderChanged;
        cluster.MemberAdded += OnMemberAdded;
        cluster.MemberRemoved += OnMemberRemoved;
    }

    /// <summary>The cluster's id (the derived one until a joining member has adopted its cluster's).</summary>
    public ulong ClusterId => Volatile.Read(ref clusterId);

    /// <summary>Whether this member still takes its cluster's id from the first leader or learner feed it hears from.</summary>
    public bool AdoptsClusterId => Volatile.Read(ref adoptClusterId);

    /// <summary>Whether this member is in the Raft configuration (false while it joins, and for a learner).</summary>
    public bool InConfiguration => Volatile.Read(ref inConfiguration);

    /// <summary>Cancelled when this member was removed from the cluster.</summary>
    public CancellationToken Removed => removed.Token;

    /// <summary>Present while this member is (or was last started as) a learner: a learner is never in the configuration.</summary>
    public string LearnerMarker => Path.Combine(dataDirectory, "learner");

    /// <summary>A member that joined a running cluster takes the cluster's id (once, and keeps it in its data directory).</summary>
    public void AdoptClusterId(ulong id)
    {
        if (Volatile.Read(ref adoptClusterId) && id != 0)
        {
            Volatile.Write(ref adoptClusterId, false);
            Volatile.Write(ref clusterId, id);
            ClusterIdentity.Save(dataDirectory, id);
        }
    }

    /// <summary>Records that this member was removed and cancels <see cref="Removed"/> (once).</summary>
    public void MarkRemoved()
    {
        if (Interlocked.Exchange(ref removedMarked, 1) == 0)
        {
            Log.LocalMemberRemoved(logger, topology.Local.Name);
            removed.Cancel();
        }
    }

    /// <summary>
    /// A notice on the peer listener said this member was removed. A notice proves nothing by itself: asks the members of
    /// this member's own configuration (never an address the notice names) and, when a leader of this cluster in a term at
    /// least <paramref name="term"/> answers a configuration without this member, marks it removed.
    /// </summary>
    public async ValueTask ConfirmRemovedAsync(ulong term, CancellationToken cancellationToken)
    {
        foreach (var member in cluster.Members.Where(m => !link.IsLocal(m)).ToList())
        {
            try
            {
                using var askTimer = new CancellationTokenSource(TimeSpan.FromSeconds(1), time);
                using var ask = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping, askTimer.Token);
                var view = await requests.AskConfigurationAsync(member.EndPoint, ask.Token).ConfigureAwait(false);
                if (view.IsLeader && view.ClusterId == ClusterId && view.Term >= term && view.MemberIds.Count > 0 && !view.MemberIds.Contains(topology.Local.Id))
                {
                    MarkRemoved();
                    return;
                }
            }
            catch (Exception e) when (e is PeerRequestException or ConsensusUnavailableException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not reachable: ask the next one.
            }
        }
    }

    public void Dispose()
    {
        cluster.LeaderChanged -= OnLeaderChanged;
        cluster.MemberAdded -= OnMemberAdded;
        cluster.MemberRemoved -= OnMemberRemoved;
        // 'removed' is not disposed: its token stays observable after the member stopped.
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        if (leader is { IsRemote: true } && AdoptsClusterId)
        {
            _ = AdoptClusterIdAsync(leader);
        }
    }

    /// <summary>Takes the cluster's id from the metadata of the first leader this member hears from.</summary>
    private async Task AdoptClusterIdAsync(RaftClusterMember leader)
    {
        try
        {
            using var timeoutTimer = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeoutTimer.Token);
            var metadata = await LeaderLink.MetadataAsync(leader, timeout.Token).ConfigureAwait(false);
            if (ulong.TryParse(metadata.GetValueOrDefault(LeaderLink.ClusterIdKey), out var id))
            {
                AdoptClusterId(id);
            }
        }
        catch (Exception e) when (e is ConsensusUnavailableException or OperationCanceledException or IOException)
        {
            // The next leader change tries again.
        }
    }

    private void OnMemberAdded(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> e)
    {
        if (!e.Member.IsRemote)
        {
            Volatile.Write(ref inConfiguration, true);
        }
    }

    private void OnMemberRemoved(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> e)
    {
        if (e.Member.IsRemote || stopping.IsCancellationRequested || !InConfiguration)
        {
            return;
        }

        // This member left the configuration: like etcd, it stops serving (it would only hold stale data).
        MarkRemoved();
    }
}

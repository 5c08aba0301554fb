using System.Net;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Cluster;
using Conclave.Storage;
using Microsoft.Extensions.Logging;

namespace Conclave.Server.Node;

/// <summary>
/// One member: the key-value store driven by the replicated log. The gRPC and HTTP edges go through here to
/// propose writes, pass read barriers and fill response headers as etcd does.
/// </summary>
public sealed class ConclaveNode : IAsyncDisposable
{
    private readonly ulong memberId;
    private readonly SpaceAlarm spaceAlarm;
    private int disposed;

    private ConclaveNode(ServerOptions options, KeyValueStore store, IConsensus consensus, ILoggerFactory loggerFactory)
    {
        Options = options;
        Store = store;
        Consensus = consensus;
        memberId = consensus.Status.MemberId;
        spaceAlarm = new SpaceAlarm(memberId, store, consensus, loggerFactory.CreateLogger<SpaceAlarm>());
        Members = new RecordedMembership(consensus, store, options.TimeProvider, loggerFactory.CreateLogger<RecordedMembership>());
    }

    public ServerOptions Options { get; }

    public KeyValueStore Store { get; }

    public IConsensus Consensus { get; }

    /// <summary>The membership etcd's Cluster service shows and changes (Raft's configuration and the member records).</summary>
    public RecordedMembership Members { get; }

    /// <summary>Client URLs this member advertises; set once the listeners are bound.</summary>
    public IReadOnlyList<string> ClientUrls { get; internal set; } = [];

    /// <summary>A member over a consensus the caller made (tests drive the server's parts over a scripted one).</summary>
    internal static ConclaveNode Create(ServerOptions options, KeyValueStore store, IConsensus consensus, ILoggerFactory loggerFactory) =>
        new(options, store, consensus, loggerFactory);

    public static async Task<ConclaveNode> StartAsync(ServerOptions options, Cluster.Peers.PeerListener peers, string advertisedPeerUrl, IReadOnlyList<string> clientUrls, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var store = new KeyValueStore(new StoreLimits
        {
            MaxRequestBytes = options.MaxRequestBytes,
            MaxTxnOps = options.MaxTxnOps,
            QuotaBytes = options.QuotaBackendBytes,
        })
        {
            CommandFailed = ApplyFailures.Reporter(loggerFactory.CreateLogger<KeyValueStore>()),
        };
        var initialCluster = ParseInitialCluster(options.InitialCluster, options.Name, advertisedPeerUrl);
        var joinExisting = options.InitialClusterState switch
        {
            "new" => false,
            "existing" => true,
            _ => throw new ArgumentException($"--initial-cluster-state must be 'new' or 'existing', not '{options.InitialClusterState}'."),
        };
        var raftOptions = new RaftNodeOptions
        {
            MemberName = options.Name,
            DataDirectory = Path.GetFullPath(options.DataDirectory),
            PeerEndpoint = peers.LocalEndPoint,
            PeerListener = peers,
            PeerTls = peers.Tls,
            InitialCluster = initialCluster,
            JoinExisting = joinExisting,
            ClientUrls = clientUrls,
            SnapshotInterval = options.SnapshotCount,
            SnapshotSendBytesPerSecond = options.SnapshotSendBytesPerSecond,
            LowerElectionTimeout = options.ElectionTimeout,
            UpperElectionTimeout = options.ElectionTimeout * 2,
            RequestTimeout = options.ElectionTimeout / 2,
            HeartbeatInterval = options.HeartbeatInterval,
            LeaderWaitTimeout = options.LeaderWaitTimeout,
            // What the gRPC edge lets through; larger commands are refused before they are queued.
            MaxCommandBytes = options.MaxMessageBytes,
            LoggerFactory = loggerFactory,
            Faults = options.Faults,
        };
        RaftNode consensus;
        try
        {
            consensus = await RaftNode.StartAsync(raftOptions, new StoreStateMachine(store), cancellationToken);
        }
        catch
        {
            store.Dispose();
            throw;
        }

        return new ConclaveNode(options, store, consensus, loggerFactory) { ClientUrls = clientUrls };
    }

    internal static IReadOnlyDictionary<string, string> ParseInitialCluster(string? initialCluster, string name, string advertisedPeerUrl)
    {
        var members = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(initialCluster))
        {
            members[name] = advertisedPeerUrl;
            return members;
        }

        foreach (var part in initialCluster.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == part.Length - 1)
            {
                throw new ArgumentException($"--initial-cluster entry '{part}' is not name=peerURL");
            }

            members[part[..eq]] = part[(eq + 1)..];
        }

        if (!members.ContainsKey(name))
        {
            throw new ArgumentException($"--initial-cluster does not name this member ('{name}')");
        }

        return members;
    }

    /// <summary>A header as etcd fills it: cluster id, this member's id, the revision, the raft term.</summary>
    public ResponseHeader Header(long revision)
    {
        return new ResponseHeader { ClusterId = Consensus.ClusterId, MemberId = memberId, Revision = revision, RaftTerm = Consensus.Term };
    }

    /// <summary>Fills the identity fields of a header the state machine produced (it knows only the revision).</summary>
    public ResponseHeader Fill(ResponseHeader? header) => Header(header?.Revision ?? Store.Revision);

    /// <summary>
    /// Proposes <paramref name="command"/> and returns its applied result, throwing if it was rejected. A write that would
    /// pass this member's quota is refused before the log, after this member's NOSPACE alarm is raised through it (etcd
    /// checks its quota before proposing and answers once the alarm it raised is in place); the alarm then refuses
    /// writes on every member alike.
    /// </summary>
    public async ValueTask<T> ProposeAsync<T>(Command command, CancellationToken cancellationToken)
    {
        if (!Store.HasSpaceFor(command))
        {
            await spaceAlarm.RaiseAsync(cancellationToken);
            throw new ConclaveErrorException(ErrorCode.NoSpace,
                $"the store holds {Store.SizeBytes} bytes; this write would pass the quota of {Store.Limits.QuotaBytes} bytes (--quota-backend-bytes)");
        }

        var result = await Consensus.ProposeAsync(command, cancellationToken);
        return result switch
        {
            Exception e => throw e,
            T response => response,
            _ => throw new InvalidOperationException($"the state machine answered {result?.GetType().Name ?? "null"} where {typeof(T).Name} was expected"),
        };
    }

    /// <summary>Stops the member; later calls do nothing (the host's container disposes it again at the end).</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref disposed, 1) == 0 ? DisposeCoreAsync() : ValueTask.CompletedTask;

    private async ValueTask DisposeCoreAsync()
    {
        await Members.DisposeAsync();
        await Consensus.DisposeAsync();
        Store.Dispose();
    }
}

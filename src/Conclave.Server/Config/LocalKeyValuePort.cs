using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.ConfigCenter.Keyspace;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Conclave.Storage;
using Google.Protobuf;

namespace Conclave.Server.Config;

/// <summary>
/// The configuration center's port over this member's system keyspace (ADR 0012), which etcd's KV and Watch API never
/// show: writes go through the replicated log as system-keyspace commands, reads pass a read barrier, watches read the
/// system keyspace's event history (like the Watch service does the user's), leases go through the lease keeper
/// (renewals from any member: a follower passes them on to the leader, as the Lease service's keep-alive does) as
/// leases of the system keyspace, which etcd's Lease API neither lists nor renews, revokes or attaches.
/// </summary>
public sealed class LocalKeyValuePort(ConclaveNode node, LeaseKeeper leases) : IKeyValuePort
{
    public async ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
    {
        RequestValidator.ValidateRange(request);
        await node.Consensus.ReadBarrierAsync(cancellationToken);
        var response = node.Store.SystemKeyspace.Range(request);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default)
    {
        RequestValidator.ValidateTxn(request, node.Options.MaxTxnOps);
        var response = await node.ProposeAsync<TxnResponse>(new Command { Txn = request, Keyspace = KeyspaceKind.System }, cancellationToken);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, CancellationToken cancellationToken = default)
    {
        var system = node.Store.SystemKeyspace;
        return PrefixWatch.ChangesAsync(system.Events, system.Signal, () => system.CompactRevision, prefix, fromRevision, cancellationToken);
    }

    public async ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default) =>
        (await leases.GrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, user: null, cancellationToken, KeyspaceKind.System)).ID;

    public async ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default) =>
        await leases.RenewAnywhereAsync(leaseId, cancellationToken, KeyspaceKind.System) > 0;
}

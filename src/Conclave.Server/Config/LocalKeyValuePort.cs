using System.Runtime.CompilerServices;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Api.Raft;
using Conclave.ConfigCenter.Keyspace;
using Conclave.Server.Leases;
using Conclave.Server.Node;
using Conclave.Storage;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Server.Config;

/// <summary>
/// The configuration center's port over this member: writes go through the replicated log, reads pass a read
/// barrier, watches read the store's event history (like the Watch service), leases go through the lease keeper
/// (renewals from any member: a follower passes them on to the leader, as the Lease service's keep-alive does).
/// </summary>
public sealed class LocalKeyValuePort(ConclaveNode node, LeaseKeeper leases) : IKeyValuePort
{
    public async ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
    {
        RequestValidator.ValidateRange(request);
        await node.Consensus.ReadBarrierAsync(cancellationToken);
        var response = node.Store.Range(request);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default)
    {
        RequestValidator.ValidateTxn(request, node.Options.MaxTxnOps);
        var response = await node.ProposeAsync<TxnResponse>(new Command { Txn = request }, cancellationToken);
        response.Header = node.Fill(response.Header);
        return response;
    }

    public async IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var watcher = new Watcher(-1, prefix, KeyOrder.PrefixEnd(prefix), fromRevision, prevKv: false, noPut: false, noDelete: false, progressNotify: false);
        var events = new List<Event>();
        var scratch = new List<RevisionEvents>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var upTo = node.Store.Signal.Revision;
            events.Clear();
            if (!watcher.Read(node.Store.Events, upTo, 1000, events, scratch))
            {
                throw new KeyspaceCompactedException(node.Store.CompactRevision);
            }

            foreach (var group in events.GroupBy(e => e.Kv.ModRevision))
            {
                yield return new KeyspaceChange(group.Key, group.ToList());
            }

            if (watcher.NextRevision <= upTo)
            {
                continue;
            }

            await node.Store.Signal.WaitAsync(upTo).WaitAsync(cancellationToken);
        }
    }

    public async ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default) =>
        (await leases.GrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, cancellationToken)).ID;

    public async ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default) =>
        await leases.RenewAnywhereAsync(leaseId, cancellationToken) > 0;
}

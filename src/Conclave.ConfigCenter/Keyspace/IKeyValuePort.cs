using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>
/// The only way the configuration center reaches storage: an etcd-v3-shaped keyspace. The server implements it
/// over the local member; an implementation over an external etcd cluster needs nothing else.
/// </summary>
public interface IKeyValuePort
{
    /// <summary>A linearizable range read.</summary>
    ValueTask<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default);

    /// <summary>An atomic compare-and-write: either every write of the chosen branch applies, or none.</summary>
    ValueTask<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every change under <paramref name="prefix"/> from <paramref name="fromRevision"/> on, in revision order.
    /// Throws <see cref="KeyspaceCompactedException"/> when that history is gone.
    /// </summary>
    IAsyncEnumerable<KeyspaceChange> WatchAsync(ByteString prefix, long fromRevision, CancellationToken cancellationToken = default);

    /// <summary>Grants a lease of <paramref name="ttlSeconds"/>; keys written with it vanish when it expires.</summary>
    ValueTask<long> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken = default);

    /// <summary>Renews a lease; false when it no longer exists.</summary>
    ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken = default);
}

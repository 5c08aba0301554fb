namespace Conclave.Client;

/// <summary>One answer to a lease keep-alive.</summary>
/// <param name="Revision">Revision of the keyspace when the server renewed the lease.</param>
/// <param name="Id">The lease.</param>
/// <param name="Ttl">The TTL the lease was renewed for, in seconds.</param>
public sealed record LeaseKeepAliveResult(long Revision, long Id, long Ttl);

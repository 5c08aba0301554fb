namespace Conclave.Client;

/// <summary>Result of <see cref="ConclaveClient.LeaseGrantAsync"/>.</summary>
/// <param name="Revision">Revision of the keyspace when the lease was granted.</param>
/// <param name="Id">The lease ID (chosen by the server unless the request named one).</param>
/// <param name="Ttl">The TTL granted, in seconds; the server raises TTLs below its minimum.</param>
public sealed record LeaseGrantResult(long Revision, long Id, long Ttl);

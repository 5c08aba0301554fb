namespace Conclave.Server.Http;

/// <summary>
/// A lease: its granted TTL, the seconds left (known to the leader; null elsewhere), the user keys it holds and the
/// system-keyspace records it holds (a configuration center delivery record's lease; ADR 0012).
/// </summary>
public sealed record LeaseView(string Id, long Ttl, long? RemainingSeconds, IReadOnlyList<string> Keys, IReadOnlyList<string> SystemKeys);

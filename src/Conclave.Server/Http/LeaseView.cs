namespace Conclave.Server.Http;

/// <summary>A lease: its granted TTL, the seconds left (known to the leader; null elsewhere) and the keys it holds.</summary>
public sealed record LeaseView(string Id, long Ttl, long? RemainingSeconds, IReadOnlyList<string> Keys);

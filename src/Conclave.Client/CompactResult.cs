namespace Conclave.Client;

/// <summary>Result of a compaction.</summary>
/// <param name="Revision">Revision of the keyspace when the compaction was applied.</param>
public sealed record CompactResult(long Revision);

namespace Conclave.ConfigCenter.Keyspace;

/// <summary>A watch asked for history that compaction has removed.</summary>
public sealed class KeyspaceCompactedException(long compactRevision)
    : Exception($"the keyspace history before revision {compactRevision} has been compacted")
{
    public long CompactRevision { get; } = compactRevision;
}

using Google.Protobuf;

namespace Conclave.Client;

/// <summary>Result of <see cref="ConclaveClient.LeaseTimeToLiveAsync"/>. A lease that does not exist has <see cref="Ttl"/> -1, as in etcd.</summary>
/// <param name="Revision">Revision of the keyspace the answer observed.</param>
/// <param name="Id">The lease asked about.</param>
/// <param name="Ttl">Seconds left before the lease expires; -1 when it does not exist (never granted, expired or revoked).</param>
/// <param name="GrantedTtl">The TTL the lease was granted with, in seconds; zero when it does not exist.</param>
/// <param name="Keys">Keys attached to the lease, in key order, when asked for.</param>
public sealed record LeaseTimeToLiveResult(long Revision, long Id, long Ttl, long GrantedTtl, IReadOnlyList<ByteString> Keys)
{
    /// <summary>Whether the lease exists.</summary>
    public bool Exists => Ttl >= 0;
}

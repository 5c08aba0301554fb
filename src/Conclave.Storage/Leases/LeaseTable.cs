using Conclave.Api.Raft;
using Google.Protobuf;

namespace Conclave.Storage.Leases;

/// <summary>
/// Leases known to the state machine and the keys attached to each. Deadlines are not state: the leader's
/// clock decides expiry and proposes a revoke through the log, so every member deletes the same keys at the
/// same revision. A lease may hold keys of both keyspaces (ADR 0012); a revoke deletes them all.
/// </summary>
public sealed class LeaseTable
{
    private readonly Dictionary<long, LeaseRecord> leases = [];

    public int Count => leases.Count;

    public IEnumerable<LeaseRecord> All => leases.Values;

    public bool Contains(long id) => leases.ContainsKey(id);

    public LeaseRecord? Find(long id) => leases.GetValueOrDefault(id);

    public LeaseRecord Grant(long id, long ttl, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        var lease = new LeaseRecord(id, ttl, keyspace);
        leases.Add(id, lease);
        return lease;
    }

    public LeaseRecord? Remove(long id) => leases.Remove(id, out var lease) ? lease : null;

    public void Attach(long id, ByteString key, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        if (leases.TryGetValue(id, out var lease))
        {
            lease.KeysIn(keyspace).Add(key);
        }
    }

    public void Detach(long id, ByteString key, KeyspaceKind keyspace = KeyspaceKind.User)
    {
        if (leases.TryGetValue(id, out var lease))
        {
            lease.KeysIn(keyspace).Remove(key);
        }
    }

    public void Clear() => leases.Clear();
}

/// <summary>One lease: its id, granted TTL in seconds, the keyspace it belongs to, and attached keys.</summary>
public sealed class LeaseRecord(long id, long ttl, KeyspaceKind keyspace = KeyspaceKind.User)
{
    public long Id { get; } = id;

    public long Ttl { get; } = ttl;

    /// <summary>
    /// Whose lease it is: a user's (etcd's Lease API) or the system keyspace's (granted by the configuration center for
    /// its delivery records). etcd's API neither lists nor reaches a system lease, and each keyspace attaches only its
    /// own leases, so no client can revoke, renew or borrow the center's.
    /// </summary>
    public KeyspaceKind Keyspace { get; internal set; } = keyspace;

    /// <summary>Attached keys of the user keyspace: the only ones etcd's Lease API shows.</summary>
    public HashSet<ByteString> Keys { get; } = [];

    /// <summary>Attached keys of the system keyspace (a delivery record's lease holds one).</summary>
    public HashSet<ByteString> SystemKeys { get; } = [];

    public HashSet<ByteString> KeysIn(KeyspaceKind keyspace) => keyspace == KeyspaceKind.System ? SystemKeys : Keys;
}

namespace Conclave.Storage;

/// <summary>Documented limits of one store. Defaults match etcd's.</summary>
public sealed record StoreLimits
{
    /// <summary>Largest request accepted (etcd's --max-request-bytes default, 1.5 MiB).</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>Most operations in one txn branch (etcd's --max-txn-ops default).</summary>
    public int MaxTxnOps { get; init; } = 128;

    /// <summary>
    /// This member's space quota for retained history (etcd's --quota-backend-bytes; 2 GiB): a write that would pass it is
    /// refused before the log (<see cref="KeyValueStore.HasSpaceFor"/>) and raises the NOSPACE alarm. Never read in apply.
    /// </summary>
    public long QuotaBytes { get; init; } = 2L * 1024 * 1024 * 1024;
}

namespace Conclave.Storage;

/// <summary>Documented limits of one store. Defaults match etcd's.</summary>
public sealed record StoreLimits
{
    /// <summary>Largest request accepted (etcd's --max-request-bytes default, 1.5 MiB).</summary>
    public int MaxRequestBytes { get; init; } = 1536 * 1024;

    /// <summary>Most operations in one txn branch (etcd's --max-txn-ops default).</summary>
    public int MaxTxnOps { get; init; } = 128;

    /// <summary>Space quota for retained history; exceeding it raises the NOSPACE alarm (etcd's --quota-backend-bytes; 2 GiB).</summary>
    public long QuotaBytes { get; init; } = 2L * 1024 * 1024 * 1024;
}

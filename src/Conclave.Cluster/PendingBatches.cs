using System.Collections.Concurrent;

namespace Conclave.Cluster;

/// <summary>
/// This member's proposal batches that are on their way through the log, by batch id. Whoever appended the
/// entry (this member as leader, or the leader a follower forwarded to), the apply of an entry whose origin is
/// this member hands the results to the waiting proposers here. Ids start at a random point per process, so an
/// entry proposed before a restart never completes a batch proposed after it.
/// </summary>
internal sealed class PendingBatches(ulong localMember)
{
    private readonly ConcurrentDictionary<ulong, ProposalBatch> batches = new();
    // A random start (ids need to differ across restarts, not to be secret: Random.Shared is seeded from the OS's
    // secure source without loading OpenSSL, which RandomNumberGenerator would, for ~4 MiB of resident memory).
    private long nextId = Random.Shared.Next(int.MaxValue) * (1L << 31);

    public ulong LocalMember { get; } = localMember;

    public ulong NextId() => (ulong)Interlocked.Increment(ref nextId);

    public void Add(ProposalBatch batch) => batches[batch.Id] = batch;

    public void Remove(ProposalBatch batch) => batches.TryRemove(new KeyValuePair<ulong, ProposalBatch>(batch.Id, batch));

    /// <summary>The waiting batch an applied entry belongs to, if it came from this member and still waits.</summary>
    public ProposalBatch? Find(ReadOnlySpan<byte> payload) =>
        ProposalBatch.TryReadOrigin(payload, out var origin, out var id) && origin == LocalMember && batches.TryGetValue(id, out var batch)
            ? batch
            : null;
}

namespace Conclave.Storage.Mvcc;

/// <summary>
/// A keyspace as it was at one revision, for a snapshot written later on another thread while writes go on (ADR 0017).
/// Taking it costs nothing per key: it holds the keyspace's histories in creation order as they were (the first
/// <see cref="count"/>; the array only ever grows at its end until a compaction, which waits for captures) and the
/// revision. The writer puts them in key order (<see cref="Ordered"/>) and writes each history's versions up to the
/// revision (<see cref="KeyHistory.CountAtOrBefore"/>).
/// </summary>
internal sealed class FrozenKeyspace
{
    private readonly Keyspace.CreationOrder order;
    private readonly KeyHistory[] created;
    private readonly int count;

    internal FrozenKeyspace(Keyspace.CreationOrder order, KeyHistory[] created, int count, long revision)
    {
        this.order = order;
        this.created = created;
        this.count = count;
        Revision = revision;
    }

    /// <summary>The keyspace's revision when frozen: versions after it are not part of the image.</summary>
    public long Revision { get; }

    /// <summary>The frozen histories in key order. Runs on the writer's thread; see <see cref="Keyspace.CreationOrder.Sort"/>.</summary>
    public KeyHistory[] Ordered() => order.Sort(created, count);
}

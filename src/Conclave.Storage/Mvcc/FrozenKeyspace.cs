namespace Conclave.Storage.Mvcc;

/// <summary>
/// A keyspace as it was at one revision, for a snapshot written later on another thread while writes go on (ADR 0017).
/// Taking it costs a list of the key index's blocks, which are copied before they change from then on
/// (<see cref="KeyIndex.Freeze"/>), and the revision. The writer reads the histories in key order (<see cref="Ordered"/>)
/// and writes each one's versions up to the revision (<see cref="KeyHistory.CountAtOrBefore"/>): histories only grow at
/// their end, and a compaction waits for captures.
/// </summary>
internal sealed class FrozenKeyspace(KeyIndex.Frozen index, long revision)
{
    /// <summary>The keyspace's revision when frozen: versions after it are not part of the image.</summary>
    public long Revision { get; } = revision;

    /// <summary>How many histories it holds.</summary>
    public int Count => index.Count;

    /// <summary>The frozen histories in key order.</summary>
    public IEnumerable<KeyHistory> Ordered() => index.All();
}

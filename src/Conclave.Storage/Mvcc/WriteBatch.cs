using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// The changes of one write transaction: all share revision <see cref="Revision"/>, ordered by sub-revision.
/// Reads through <see cref="Keyspace"/> at <see cref="ReadRevision"/> see the changes made so far.
/// </summary>
public sealed class WriteBatch
{
    private readonly Keyspace keyspace;
    private List<int>? changes; // the row of the key each sub-revision changed, in order
    private int sub;

    internal WriteBatch(Keyspace keyspace)
    {
        this.keyspace = keyspace;
        Revision = keyspace.Revision + 1;
    }

    /// <summary>The keyspace this transaction writes.</summary>
    internal Keyspace Keyspace => keyspace;

    /// <summary>The revision this transaction writes at.</summary>
    public long Revision { get; }

    public bool Changed => changes is { Count: > 0 };

    /// <summary>The revision a read inside this transaction uses: its own writes are visible.</summary>
    public long ReadRevision => Changed ? Revision : keyspace.Revision;

    public void Put(ByteString key, ByteString value, long lease) => keyspace.Put(this, key, value, lease);

    /// <summary>A put that keeps <paramref name="existing"/>'s value (etcd's ignore_value).</summary>
    internal void PutKeepingValue(ByteString key, in KeyVersion existing, long lease) => keyspace.PutKeepingValue(this, key, existing, lease);

    public KeyValue? Delete(ByteString key) => keyspace.Delete(this, key);

    public void Commit() => keyspace.Commit(this);

    internal int NextSub() => sub++;

    /// <summary>Records that the change at the last sub-revision handed out was to <paramref name="history"/>'s key.</summary>
    internal void Record(KeyHistory history)
    {
        (changes ??= []).Add(history.Row);
        if (changes.Count != sub)
        {
            throw new InvalidOperationException($"change {changes.Count} of revision {Revision} recorded at sub-revision {sub - 1}");
        }
    }

    internal int[] TakeChanges()
    {
        var result = changes?.ToArray() ?? [];
        changes = null;
        return result;
    }
}

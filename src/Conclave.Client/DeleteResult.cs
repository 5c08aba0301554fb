namespace Conclave.Client;

/// <summary>Result of a delete. Deleting a missing key is not an error: <see cref="Deleted"/> is zero.</summary>
/// <param name="Revision">Revision of the keyspace after the delete.</param>
/// <param name="Deleted">Number of keys deleted.</param>
/// <param name="PrevKvs">The deleted pairs, when asked for with <see cref="DeleteOptions.PrevKv"/>.</param>
public sealed record DeleteResult(long Revision, long Deleted, IReadOnlyList<KeyValueEntry> PrevKvs) : OpResult(Revision)
{
    internal static DeleteResult From(Conclave.Api.Etcd.DeleteRangeResponse response)
    {
        var prev = new KeyValueEntry[response.PrevKvs.Count];
        for (var i = 0; i < prev.Length; i++)
        {
            prev[i] = KeyValueEntry.From(response.PrevKvs[i]);
        }

        return new DeleteResult(response.Header?.Revision ?? 0, response.Deleted, prev);
    }
}

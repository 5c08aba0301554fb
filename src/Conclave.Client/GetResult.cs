namespace Conclave.Client;

/// <summary>Result of a read. A missing key is an empty <see cref="Kvs"/>, not an error.</summary>
/// <param name="Revision">Revision of the keyspace the read observed.</param>
/// <param name="Kvs">The key-value pairs found (empty when counting only).</param>
/// <param name="More">Whether more keys exist in the range than were returned because of the limit.</param>
/// <param name="Count">Number of keys in the range, regardless of the limit.</param>
public sealed record GetResult(long Revision, IReadOnlyList<KeyValueEntry> Kvs, bool More, long Count) : OpResult(Revision)
{
    /// <summary>The first key-value pair, or <c>null</c> when nothing was found.</summary>
    public KeyValueEntry? First => Kvs.Count > 0 ? Kvs[0] : null;

    /// <summary>Whether at least one key was found.</summary>
    public bool Found => Kvs.Count > 0;

    internal static GetResult From(Conclave.Api.Etcd.RangeResponse response)
    {
        var kvs = new KeyValueEntry[response.Kvs.Count];
        for (var i = 0; i < kvs.Length; i++)
        {
            kvs[i] = KeyValueEntry.From(response.Kvs[i]);
        }

        return new GetResult(response.Header?.Revision ?? 0, kvs, response.More, response.Count);
    }
}

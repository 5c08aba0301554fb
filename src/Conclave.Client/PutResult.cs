namespace Conclave.Client;

/// <summary>Result of a write.</summary>
/// <param name="Revision">Revision created by the write.</param>
/// <param name="PrevKv">The pair before the write, when asked for with <see cref="PutOptions.PrevKv"/> and the key existed.</param>
public sealed record PutResult(long Revision, KeyValueEntry? PrevKv) : OpResult(Revision)
{
    internal static PutResult From(Conclave.Api.Etcd.PutResponse response) =>
        new(response.Header?.Revision ?? 0, KeyValueEntry.FromOptional(response.PrevKv));
}

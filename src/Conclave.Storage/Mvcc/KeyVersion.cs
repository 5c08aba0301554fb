using Conclave.Api.Mvcc;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// One revision of one key: the value written at (<paramref name="Main"/>, <paramref name="Sub"/>), or a
/// tombstone when <paramref name="Value"/> is null. The KeyValue is shared, never mutated.
/// </summary>
public readonly record struct KeyVersion(long Main, int Sub, KeyValue? Value)
{
    public bool IsTombstone => Value is null;

    /// <summary>Bytes this version is charged against the space quota.</summary>
    public long Cost(int keyLength) => keyLength + (Value?.Value.Length ?? 0) + 48;
}

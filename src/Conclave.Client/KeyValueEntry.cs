using Google.Protobuf;

namespace Conclave.Client;

/// <summary>One key with its value and versioning metadata, as stored at a revision.</summary>
/// <param name="Key">The key bytes.</param>
/// <param name="Value">The value bytes (empty when the read asked for keys only).</param>
/// <param name="CreateRevision">Revision of the last creation of this key.</param>
/// <param name="ModRevision">Revision of the last modification of this key.</param>
/// <param name="Version">Number of modifications since creation; zero for a deleted key.</param>
/// <param name="Lease">Lease attached to the key; zero when none.</param>
public sealed record KeyValueEntry(
    ByteString Key,
    ByteString Value,
    long CreateRevision,
    long ModRevision,
    long Version,
    long Lease)
{
    /// <summary>The key decoded as UTF-8.</summary>
    public string KeyString => Key.ToStringUtf8();

    /// <summary>The value decoded as UTF-8.</summary>
    public string ValueString => Value.ToStringUtf8();

    internal static KeyValueEntry From(Conclave.Api.Mvcc.KeyValue kv) =>
        new(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    internal static KeyValueEntry? FromOptional(Conclave.Api.Mvcc.KeyValue? kv) => kv is null ? null : From(kv);
}

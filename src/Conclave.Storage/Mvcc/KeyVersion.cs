using System.Runtime.InteropServices;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// One revision of one key as the keyspace keeps it: the write's revision (<see cref="Main"/>, <see cref="Sub"/>) and,
/// unless a tombstone, the key's create revision, version, lease and value. A plain record in the key's history, not an
/// object graph: the protobuf <see cref="KeyValue"/> a read or a watch event returns is made from it when asked
/// (<see cref="ToKeyValue"/>), sharing the value's array (ADR 0017). The value array is never changed once stored.
/// </summary>
public readonly struct KeyVersion : IEquatable<KeyVersion>
{
    private readonly byte[]? value;

    /// <summary>A put: <paramref name="value"/> is kept as it is (the caller must not change it afterwards).</summary>
    public KeyVersion(long main, int sub, long createRevision, long version, long lease, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Main = main;
        Sub = sub;
        CreateRevision = createRevision;
        Version = version;
        Lease = lease;
        this.value = value;
    }

    private KeyVersion(long main, int sub)
    {
        Main = main;
        Sub = sub;
    }

    /// <summary>A deletion at (<paramref name="main"/>, <paramref name="sub"/>).</summary>
    public static KeyVersion Tombstone(long main, int sub) => new(main, sub);

    public long Main { get; }

    public int Sub { get; }

    public long CreateRevision { get; }

    public long Version { get; }

    public long Lease { get; }

    public bool IsTombstone => value is null;

    /// <summary>The value's bytes (empty for a tombstone).</summary>
    public ReadOnlySpan<byte> ValueSpan => value;

    /// <summary>The value's length (0 for a tombstone).</summary>
    public int ValueLength => value?.Length ?? 0;

    /// <summary>The stored value array itself, for another version of the same key that keeps it (a put that ignores the value).</summary>
    internal byte[]? ValueArray => value;

    /// <summary>Bytes this version is charged against the space quota.</summary>
    public long Cost(int keyLength) => keyLength + ValueLength + 48;

    /// <summary>The value as a <see cref="ByteString"/> over the stored array (no copy).</summary>
    public ByteString ValueBytes => value is null || value.Length == 0 ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(value);

    /// <summary>The key-value a read returns for this version, or null for a tombstone.</summary>
    public KeyValue? ToKeyValue(ByteString key) => value is null
        ? null
        : new KeyValue { Key = key, Value = ValueBytes, CreateRevision = CreateRevision, ModRevision = Main, Version = Version, Lease = Lease };

    /// <summary>
    /// The array to keep for <paramref name="bytes"/>: its own array when it wraps a whole one (a parsed command's value
    /// is a fresh array of its own, never changed), otherwise a copy.
    /// </summary>
    public static byte[] Store(ByteString bytes)
    {
        if (bytes.IsEmpty)
        {
            return [];
        }

        return MemoryMarshal.TryGetArray(bytes.Memory, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToByteArray();
    }

    public bool Equals(KeyVersion other) =>
        Main == other.Main && Sub == other.Sub && CreateRevision == other.CreateRevision && Version == other.Version && Lease == other.Lease
        && IsTombstone == other.IsTombstone && ValueSpan.SequenceEqual(other.ValueSpan);

    public override bool Equals(object? obj) => obj is KeyVersion other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Main, Sub, Version);

    public override string ToString() => IsTombstone ? $"({Main},{Sub}) deleted" : $"({Main},{Sub}) v{Version} create {CreateRevision} lease {Lease} {ValueLength} bytes";

    public static bool operator ==(KeyVersion left, KeyVersion right) => left.Equals(right);

    public static bool operator !=(KeyVersion left, KeyVersion right) => !left.Equals(right);
}

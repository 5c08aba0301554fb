using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// One revision of one key as the keyspace keeps it: the write's revision (<see cref="Main"/>, <see cref="Sub"/>) and,
/// unless a tombstone, the key's create revision, version, lease and value. A plain record in the key's history, not an
/// object graph: the protobuf <see cref="KeyValue"/> a read or a watch event returns is made from it when asked
/// (<see cref="ToKeyValue"/>), sharing the value's bytes (ADR 0017). The value is bytes in its keyspace's
/// <see cref="ValueArena"/> or, when longer than a chunk takes, an array of its own; either is never changed once stored.
/// 48 bytes: the storage reference, four longs, the sub-revision and the value's place (<see cref="StoredValue.Location"/>).
/// </summary>
public readonly struct KeyVersion : IEquatable<KeyVersion>
{
    private readonly object? storage; // the value's own array or its ValueChunk; null for a tombstone
    private readonly int location;    // where in a chunk (StoredValue.Location): 48 bytes a version, not 56

    /// <summary>A put whose value is <paramref name="value"/> (in a keyspace's arena, or an array of its own).</summary>
    public KeyVersion(long main, int sub, long createRevision, long version, long lease, StoredValue value)
    {
        ArgumentNullException.ThrowIfNull(value.Storage);
        Main = main;
        Sub = sub;
        CreateRevision = createRevision;
        Version = version;
        Lease = lease;
        storage = value.Storage;
        location = value.Location;
    }

    /// <summary>A put whose value is kept in an array of its own (the caller must not change it afterwards).</summary>
    public KeyVersion(long main, int sub, long createRevision, long version, long lease, byte[] value)
        : this(main, sub, createRevision, version, lease, StoredValue.Own(value ?? throw new ArgumentNullException(nameof(value))))
    {
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

    public bool IsTombstone => storage is null;

    /// <summary>The value's bytes (empty for a tombstone).</summary>
    public ReadOnlySpan<byte> ValueSpan => storage is null ? [] : Stored.Span;

    /// <summary>The value's length (0 for a tombstone).</summary>
    public int ValueLength => storage is null ? 0 : StoredValue.LengthAt(storage, location);

    /// <summary>Where the value is kept, for another version of the same key that keeps it (a put that ignores the value).</summary>
    internal StoredValue Stored => storage is null ? StoredValue.Empty : StoredValue.At(storage, location);

    /// <summary>This version with its value kept at <paramref name="moved"/> (the same bytes elsewhere).</summary>
    internal KeyVersion WithValue(StoredValue moved) => new(Main, Sub, CreateRevision, Version, Lease, moved);

    /// <summary>Bytes this version is charged against the space quota.</summary>
    public long Cost(int keyLength) => keyLength + ValueLength + 48;

    /// <summary>The value as a <see cref="ByteString"/> over the stored bytes (no copy; they never change).</summary>
    public ByteString ValueBytes => storage is null || ValueLength == 0 ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(Stored.Memory);

    /// <summary>The key-value a read returns for this version, or null for a tombstone.</summary>
    public KeyValue? ToKeyValue(ByteString key) => storage is null
        ? null
        : new KeyValue { Key = key, Value = ValueBytes, CreateRevision = CreateRevision, ModRevision = Main, Version = Version, Lease = Lease };

    public bool Equals(KeyVersion other) =>
        Main == other.Main && Sub == other.Sub && CreateRevision == other.CreateRevision && Version == other.Version && Lease == other.Lease
        && IsTombstone == other.IsTombstone && ValueSpan.SequenceEqual(other.ValueSpan);

    public override bool Equals(object? obj) => obj is KeyVersion other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Main, Sub, Version);

    public override string ToString() => IsTombstone ? $"({Main},{Sub}) deleted" : $"({Main},{Sub}) v{Version} create {CreateRevision} lease {Lease} {ValueLength} bytes";

    public static bool operator ==(KeyVersion left, KeyVersion right) => left.Equals(right);

    public static bool operator !=(KeyVersion left, KeyVersion right) => !left.Equals(right);
}

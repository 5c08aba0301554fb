using System.Buffers.Binary;
using Conclave.Api.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Mvcc;

/// <summary>
/// One revision of one key as the keyspace keeps it: the write's revision (<see cref="Main"/>, <see cref="Sub"/>) and,
/// unless a tombstone, the key's create revision, version, lease and value. A plain record in the key's history, not an
/// object graph: the protobuf <see cref="KeyValue"/> a read or a watch event returns is made from it when asked
/// (<see cref="ToKeyValue"/>), sharing the value's bytes (ADR 0017). The value is bytes in its keyspace's
/// <see cref="ValueArena"/> or, when longer than a chunk takes, an array of its own; either is never changed once stored.
/// A version's lease, when it has one, is stored as the 8 bytes before its value (<see cref="ValueArena.Store(ReadOnlySpan{byte}, long)"/>),
/// flagged by the sub-revision's top bit: most keys of a configuration store have no lease, and every version (and every
/// key's history, which holds one inline) is 8 bytes smaller for it.
/// 40 bytes: the storage reference, three longs, the sub-revision with the flag and the value's place (<see cref="StoredValue.Location"/>).
/// </summary>
public readonly struct KeyVersion : IEquatable<KeyVersion>
{
    /// <summary>Bytes a lease takes before the value it belongs to.</summary>
    internal const int LeaseBytes = sizeof(long);

    private const int LeasedFlag = int.MinValue; // in subAndFlag: the stored bytes start with the lease

    private readonly object? storage; // the value's own array or its ValueChunk; null for a tombstone
    private readonly int location;    // where in a chunk (StoredValue.Location)
    private readonly int subAndFlag;  // Sub, and LeasedFlag when the stored bytes start with the lease

    /// <summary>
    /// A put whose value (after its lease, when <paramref name="lease"/> is not 0) is kept at <paramref name="stored"/>:
    /// what <see cref="ValueArena.Store(ReadOnlySpan{byte}, long)"/> or <see cref="ValueArena.Reserve(int, long, out StoredValue)"/>
    /// returned for the same lease.
    /// </summary>
    public KeyVersion(long main, int sub, long createRevision, long version, long lease, StoredValue stored)
    {
        ArgumentNullException.ThrowIfNull(stored.Storage);
        ArgumentOutOfRangeException.ThrowIfNegative(sub);
        if (lease != 0 && (stored.Length < LeaseBytes || BinaryPrimitives.ReadInt64LittleEndian(stored.Span) != lease))
        {
            throw new ArgumentException($"the stored bytes do not start with lease {lease:x}", nameof(stored));
        }

        Main = main;
        subAndFlag = lease != 0 ? sub | LeasedFlag : sub;
        CreateRevision = createRevision;
        Version = version;
        storage = stored.Storage;
        location = stored.Location;
    }

    /// <summary>A put whose value is kept in an array of its own (the caller must not change it afterwards).</summary>
    public KeyVersion(long main, int sub, long createRevision, long version, long lease, byte[] value)
        : this(main, sub, createRevision, version, lease, StoredValue.Own(lease == 0 ? value ?? throw new ArgumentNullException(nameof(value)) : WithLease(lease, value)))
    {
    }

    private KeyVersion(long main, int sub)
    {
        Main = main;
        subAndFlag = sub;
    }

    private KeyVersion(in KeyVersion version, StoredValue moved)
    {
        this = version;
        storage = moved.Storage;
        location = moved.Location;
    }

    /// <summary>A deletion at (<paramref name="main"/>, <paramref name="sub"/>).</summary>
    public static KeyVersion Tombstone(long main, int sub) => new(main, sub);

    public long Main { get; }

    public int Sub => subAndFlag & int.MaxValue;

    public long CreateRevision { get; }

    public long Version { get; }

    /// <summary>The lease the key is attached to at this version (0 for none).</summary>
    public long Lease => HasLease ? BinaryPrimitives.ReadInt64LittleEndian(Stored.Span) : 0;

    public bool IsTombstone => storage is null;

    private bool HasLease => subAndFlag < 0;

    /// <summary>The value's bytes (empty for a tombstone).</summary>
    public ReadOnlySpan<byte> ValueSpan => storage is null ? [] : Stored.Span[LeaseLength..];

    /// <summary>The value's length (0 for a tombstone).</summary>
    public int ValueLength => storage is null ? 0 : StoredValue.LengthAt(storage, location) - LeaseLength;

    /// <summary>
    /// Where the value is kept, with the lease before it when there is one: what a keyspace's arena accounts, moves and
    /// releases, and what another version of the same key with the same lease shares (a put that ignores the value).
    /// </summary>
    internal StoredValue Stored => storage is null ? StoredValue.Empty : StoredValue.At(storage, location);

    private int LeaseLength => HasLease ? LeaseBytes : 0;

    /// <summary>This version with its value (and lease) kept at <paramref name="moved"/> (the same bytes elsewhere).</summary>
    internal KeyVersion WithValue(StoredValue moved) => new(this, moved);

    /// <summary>Bytes this version is charged against the space quota.</summary>
    public long Cost(int keyLength) => keyLength + ValueLength + 48;

    /// <summary>The value as a <see cref="ByteString"/> over the stored bytes (no copy; they never change).</summary>
    public ByteString ValueBytes => storage is null || ValueLength == 0 ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(Stored.Memory[LeaseLength..]);

    /// <summary>The key-value a read returns for this version, or null for a tombstone.</summary>
    public KeyValue? ToKeyValue(ByteString key) => storage is null
        ? null
        : new KeyValue { Key = key, Value = ValueBytes, CreateRevision = CreateRevision, ModRevision = Main, Version = Version, Lease = Lease };

    public bool Equals(KeyVersion other) =>
        Main == other.Main && Sub == other.Sub && CreateRevision == other.CreateRevision && Version == other.Version && Lease == other.Lease
        && IsTombstone == other.IsTombstone && ValueSpan.SequenceEqual(other.ValueSpan);

    /// <summary>Writes <paramref name="lease"/> at the start of <paramref name="stored"/>; returns the room for the value after it.</summary>
    internal static Span<byte> WriteLease(Span<byte> stored, long lease)
    {
        BinaryPrimitives.WriteInt64LittleEndian(stored, lease);
        return stored[LeaseBytes..];
    }

    private static byte[] WithLease(long lease, byte[] value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var stored = new byte[LeaseBytes + value.Length];
        value.CopyTo(WriteLease(stored, lease));
        return stored;
    }

    public override bool Equals(object? obj) => obj is KeyVersion other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Main, Sub, Version);

    public override string ToString() => IsTombstone ? $"({Main},{Sub}) deleted" : $"({Main},{Sub}) v{Version} create {CreateRevision} lease {Lease} {ValueLength} bytes";

    public static bool operator ==(KeyVersion left, KeyVersion right) => left.Equals(right);

    public static bool operator !=(KeyVersion left, KeyVersion right) => !left.Equals(right);
}

using System.Buffers.Binary;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>
/// What a leader sends in InstallSnapshot: which snapshot a lagging member needs and which member holds it, not the
/// snapshot itself. The member fetches the image over the peer channel in chunks, in the background, resuming where
/// it stopped (<see cref="SnapshotCatchUp"/>), and installs it when a later InstallSnapshot names the same snapshot
/// and the image is complete. So no Raft request ever carries more than these few bytes (ADR 0010).
/// </summary>
/// <remarks>
/// Layout (little endian), version 1:
/// <c>magic "CNCLSDSC" (8) | version u32 | reserved u32 | index i64 | term i64 | file length i64 | payload xxHash64 u64 | source member id u64</c>.
/// </remarks>
internal sealed class SnapshotDescriptor : ISnapshot
{
    public const int Size = 56;
    public const uint FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "CNCLSDSC"u8;

    public SnapshotDescriptor(long index, long term, long fileLength, ulong hash, ulong source)
    {
        Index = index;
        Term = term;
        FileLength = fileLength;
        Hash = hash;
        Source = source;
    }

    public static SnapshotDescriptor Of(SnapshotFile file, ulong source) => new(file.Index, file.Term, file.FileLength, file.Hash, source);

    public long Index { get; }

    public long Term { get; }

    /// <summary>Length of the whole snapshot file (frame and payload).</summary>
    public long FileLength { get; }

    /// <summary>The payload's xxHash64 (the file's trailer).</summary>
    public ulong Hash { get; }

    /// <summary>Member id of the member that sent this descriptor and serves the image.</summary>
    public ulong Source { get; }

    long? IDataTransferObject.Length => Size;

    bool IDataTransferObject.IsReusable => true;

    int? DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry.CommandId => null;

    bool DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry.IsConfiguration => false;

    /// <summary>Whether <paramref name="file"/> is the image this descriptor names.</summary>
    public bool Names(SnapshotFile file) => file.Index == Index && file.Term == Term && file.Hash == Hash && file.FileLength == FileLength;

    public bool SameImage(SnapshotDescriptor other) =>
        other.Index == Index && other.Term == Term && other.Hash == Hash && other.FileLength == FileLength;

    public void Write(Span<byte> destination)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], Index);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], Term);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], FileLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], Hash);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[48..], Source);
    }

    ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
    {
        var bytes = new byte[Size];
        Write(bytes);
        return writer.Invoke(bytes, token);
    }

    /// <summary>Whether <paramref name="bytes"/> start like a descriptor (as opposed to a whole snapshot frame).</summary>
    public static bool IsDescriptor(ReadOnlySpan<byte> bytes) => bytes.Length == Size && bytes.StartsWith(Magic);

    /// <exception cref="InvalidDataException">Not a version 1 descriptor, or one that names no possible snapshot.</exception>
    public static SnapshotDescriptor Parse(ReadOnlySpan<byte> bytes)
    {
        if (!IsDescriptor(bytes))
        {
            throw new InvalidDataException($"A snapshot descriptor is {Size} bytes starting with CNCLSDSC; got {bytes.Length} bytes.");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Snapshot descriptor version {version}; this build reads version {FormatVersion}.");
        }

        var descriptor = new SnapshotDescriptor(
            BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[40..]),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes[48..]));
        if (descriptor.Index < 1 || descriptor.Term < 0 || descriptor.FileLength < SnapshotFile.HeaderSize + SnapshotFile.TrailerSize)
        {
            throw new InvalidDataException(
                $"Snapshot descriptor names index {descriptor.Index}, term {descriptor.Term}, {descriptor.FileLength} bytes: not a possible snapshot.");
        }

        return descriptor;
    }

    public override string ToString() => $"snapshot {Index} (term {Term}, {FileLength} bytes, hash {Hash:x16}, from {Source:x})";
}

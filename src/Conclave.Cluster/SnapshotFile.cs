using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Conclave.Cluster;

/// <summary>
/// One durable snapshot: the state machine's image as of <see cref="Index"/>, framed so that a torn or foreign
/// file is detected before it replaces the state. The same bytes travel to lagging followers as
/// InstallSnapshot, so the frame is also the wire format.
/// </summary>
/// <remarks>
/// Layout (little endian), format version 1:
/// <c>magic "CNCLSNAP" (8) | version u32 | reserved u32 | index i64 | term i64 | payload length i64 | payload | xxHash64(payload) u64</c>.
/// Files are written to a temporary name, flushed, renamed, and the directory flushed: a snapshot either
/// exists whole or not at all.
/// </remarks>
internal sealed class SnapshotFile : ISnapshot
{
    public const uint FormatVersion = 1;
    public const int HeaderSize = 40;
    public const int TrailerSize = 8;
    private const string Prefix = "snapshot-";
    private const string Suffix = ".snap";
    private static ReadOnlySpan<byte> Magic => "CNCLSNAP"u8;

    private SnapshotFile(string path, long index, long term, long length, ulong hash)
    {
        Path = path;
        Index = index;
        Term = term;
        FileLength = length;
        Hash = hash;
    }

    public string Path { get; }

    public long Index { get; }

    public long Term { get; }

    public long FileLength { get; }

    /// <summary>The payload's xxHash64, as the trailer holds it: with index and term, what names this exact image.</summary>
    public ulong Hash { get; }

    /// <summary>Bytes of the state machine's own image inside the frame.</summary>
    public long PayloadLength => FileLength - HeaderSize - TrailerSize;

    long? IDataTransferObject.Length => FileLength;

    bool IDataTransferObject.IsReusable => true;

    int? DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry.CommandId => null;

    bool DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry.IsConfiguration => false;

    /// <summary>The whole file (frame and payload), as a snapshot is transferred; it stays readable if deleted meanwhile.</summary>
    public FileStream OpenFrame() => new(Path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read | FileShare.Delete,
        Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        BufferSize = 0,
    });

    async ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
    {
        var stream = OpenFrame();
        await using (stream.ConfigureAwait(false))
        {
            await writer.CopyFromAsync(stream, null, token).ConfigureAwait(false);
        }
    }

    public static string FileName(long index, long term) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{index:D20}-{term:D20}{Suffix}");

    /// <summary>Snapshot files in <paramref name="directory"/>, newest first (by the index in the name).</summary>
    public static IEnumerable<(string Path, long Index, long Term)> List(string directory) =>
        Directory.EnumerateFiles(directory, Prefix + "*" + Suffix)
            .Select(static path => (Path: path, Parsed: TryParseName(System.IO.Path.GetFileName(path))))
            .Where(static f => f.Parsed is not null)
            .Select(static f => (f.Path, f.Parsed!.Value.Index, f.Parsed.Value.Term))
            .OrderByDescending(static f => f.Index);

    private static (long Index, long Term)? TryParseName(string name)
    {
        if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = name[Prefix.Length..^Suffix.Length].Split('-');
        return parts.Length == 2
               && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
               && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var term)
            ? (index, term)
            : null;
    }

    /// <summary>Writes <paramref name="payload"/> as a durable snapshot file and returns it.</summary>
    public static SnapshotFile Write(string directory, long index, long term, SnapshotBuffer payload)
    {
        var hash = new XxHash64();
        foreach (var segment in payload.Segments)
        {
            hash.Append(segment.Span);
        }

        var temp = System.IO.Path.Combine(directory, $"{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = PrivateFiles.Open(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                Span<byte> header = stackalloc byte[HeaderSize];
                FormatHeader(header, index, term, payload.Length);
                stream.Write(header);
                foreach (var segment in payload.Segments)
                {
                    stream.Write(segment.Span);
                }

                Span<byte> trailer = stackalloc byte[TrailerSize];
                BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
                stream.Write(trailer);
                stream.Flush(flushToDisk: true);
            }

            return Commit(directory, temp, index, term, hash.GetCurrentHashAsUInt64());
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Starts a snapshot written straight into its (temporary) file: the image goes to the page cache as the state
    /// machine writes it, so a capture costs no memory of its own; <see cref="Writer.Commit"/> then makes it durable.
    /// </summary>
    public static Writer Create(string directory, long index, long term) => new(directory, index, term);

    /// <summary>
    /// A snapshot being written: a write-only stream of the payload that frames and hashes it on the way to the
    /// file. Written under the apply order (memory speed: no flush), committed in the background (fsync, rename).
    /// </summary>
    internal sealed class Writer : WriteOnlyStream
    {
        /// <summary>
        /// Bytes written between write-back steps while an image is written (<see cref="DurableFiles.WriteBackStep"/>).
        /// Without them a gigabyte image sat dirty in the page cache (the kernel starts writing back at 10% of memory)
        /// until the final sync, which put the whole image on the disk's queue ahead of the log's next fdatasync: puts
        /// stalled 0.7-1.2 s as each large snapshot ended (docs/benchmarks.md, twenty-fifth session). Pushed out as it
        /// goes, at most two steps of it are ahead of the log.
        /// </summary>
        internal const long WriteBackStepBytes = 4 * 1024 * 1024;

        private readonly string directory;
        private readonly long index;
        private readonly long term;
        private readonly string temp;
        private readonly FileStream file;
        private readonly XxHash64 hash = new();
        private long length;
        private long writeBackStarted;         // payload bytes whose write-back has been started
        private long writtenBack = HeaderSize; // file offset up to which the write-back is complete
        private bool isSealed;

        public Writer(string directory, long index, long term)
        {
            this.directory = directory;
            this.index = index;
            this.term = term;
            temp = System.IO.Path.Combine(directory, $"{Guid.NewGuid():N}.tmp");
            file = PrivateFiles.Open(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024);
            file.Write(stackalloc byte[HeaderSize]); // the real header (with the payload length) is written by Seal
        }

        public override long Length => length;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(isSealed, this);
            hash.Append(buffer);
            file.Write(buffer);
            length += buffer.Length;
            if (length - writeBackStarted >= WriteBackStepBytes)
            {
                file.Flush();
                var end = HeaderSize + length;
                DurableFiles.WriteBackStep(file.SafeFileHandle, waitFrom: writtenBack, from: HeaderSize + writeBackStarted, to: end);
                writtenBack = HeaderSize + writeBackStarted;
                writeBackStarted = length;
                WriteBackSteps++;
            }
        }

        /// <summary>Write-back steps made while the payload was written (for tests).</summary>
        internal int WriteBackSteps { get; private set; }

        /// <summary>The file being written (for tests that ask the kernel how much of it is still in the page cache).</summary>
        internal Microsoft.Win32.SafeHandles.SafeFileHandle FileHandle => file.SafeFileHandle;

        /// <summary>Ends the payload: writes the trailer and the header into the file (page cache, not yet durable).</summary>
        public void Seal()
        {
            isSealed = true;
            Span<byte> trailer = stackalloc byte[TrailerSize];
            BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
            file.Write(trailer);
            Span<byte> header = stackalloc byte[HeaderSize];
            FormatHeader(header, index, term, length);
            file.Position = 0;
            file.Write(header);
            file.Flush();
        }

        /// <summary>Flushes the sealed file to disk and gives it its name: from here on it is the durable snapshot.</summary>
        public SnapshotFile Commit()
        {
            file.Flush(flushToDisk: true);
            file.Dispose();
            return SnapshotFile.Commit(directory, temp, index, term, hash.GetCurrentHashAsUInt64());
        }

        /// <summary>Drops an unfinished snapshot (its temporary file is deleted).</summary>
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                file.Dispose();
                if (File.Exists(temp))
                {
                    File.Delete(temp);
                }
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Receives a snapshot image sent by the leader, verifies it, and makes it durable.</summary>
    public static async ValueTask<SnapshotFile> ReceiveAsync<TEntry>(string directory, TEntry entry, long entryIndex, CancellationToken token)
        where TEntry : DotNext.Net.Cluster.Consensus.Raft.IRaftLogEntry
    {
        var temp = System.IO.Path.Combine(directory, $"{Guid.NewGuid():N}.tmp");
        try
        {
            var stream = PrivateFiles.Open(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[64 * 1024];
                await entry.WriteToAsync(IAsyncBinaryWriter.Create(stream, buffer), token).ConfigureAwait(false);
                await stream.FlushAsync(token).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            var (index, term, hash) = Verify(temp);
            if (index != entryIndex)
            {
                throw new InvalidDataException($"Snapshot from the leader claims index {index} but was sent as index {entryIndex}.");
            }

            return Commit(directory, temp, index, term, hash);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Opens an existing snapshot after checking its frame and checksum.</summary>
    public static SnapshotFile Open(string path)
    {
        var (index, term, hash) = Verify(path);
        return new SnapshotFile(path, index, term, new FileInfo(path).Length, hash);
    }

    /// <summary>A read-only stream over the state machine's image inside the frame.</summary>
    public Stream OpenPayload()
    {
        var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);
        stream.Position = HeaderSize;
        return new BoundedReadStream(stream, PayloadLength);
    }

    public void Delete() => File.Delete(Path);

    /// <summary>
    /// Gives a complete, verified snapshot file (flushed to disk) its name in <paramref name="directory"/>: from here on
    /// it is a durable snapshot.
    /// </summary>
    internal static SnapshotFile Commit(string directory, string temp, long index, long term, ulong hash)
    {
        var path = System.IO.Path.Combine(directory, FileName(index, term));
        File.Move(temp, path, overwrite: true);
        DurableFiles.FlushDirectory(directory);
        return new SnapshotFile(path, index, term, new FileInfo(path).Length, hash);
    }

    private static void FormatHeader(Span<byte> header, long index, long term, long payloadLength)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], index);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], term);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], payloadLength);
    }

    /// <summary>Checks a snapshot file's frame and checksum; returns what its header names and its payload hash.</summary>
    internal static (long Index, long Term, ulong Hash) Verify(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);
        Span<byte> header = stackalloc byte[HeaderSize];
        if (stream.Length < HeaderSize + TrailerSize)
        {
            throw new InvalidDataException($"Snapshot {path} is {stream.Length} bytes, shorter than its frame.");
        }

        stream.ReadExactly(header);
        if (!header[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"Snapshot {path} does not start with the Conclave snapshot magic.");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version > FormatVersion)
        {
            throw new NewerFormatException(
                $"snapshot file {path} is format {version}, newer than this build's {FormatVersion}: it was written by a newer Conclave. " +
                "Upgrade the binary, or restore the member from a backup; see docs/upgrades.md.",
                "snapshot file", version, FormatVersion);
        }

        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Snapshot {path} has format version {version}; this build reads version {FormatVersion}.");
        }

        var index = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        var term = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        var payloadLength = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        if (payloadLength != stream.Length - HeaderSize - TrailerSize)
        {
            throw new InvalidDataException($"Snapshot {path} declares {payloadLength} payload bytes but holds {stream.Length - HeaderSize - TrailerSize}.");
        }

        var hash = new XxHash64();
        var buffer = new byte[64 * 1024];
        for (var remaining = payloadLength; remaining > 0;)
        {
            var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            hash.Append(buffer.AsSpan(0, n));
            remaining -= n;
        }

        Span<byte> trailer = stackalloc byte[TrailerSize];
        stream.ReadExactly(trailer);
        if (BinaryPrimitives.ReadUInt64LittleEndian(trailer) != hash.GetCurrentHashAsUInt64())
        {
            throw new InvalidDataException($"Snapshot {path} fails its checksum.");
        }

        return (index, term, hash.GetCurrentHashAsUInt64());
    }
}

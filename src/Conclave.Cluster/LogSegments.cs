using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Conclave.Cluster;

/// <summary>
/// The files of <see cref="RaftLog"/>: a sequence of segments, each written front to back in frames, one frame and
/// one <c>fdatasync</c> per flush.
/// </summary>
/// <remarks>
/// <para>
/// Segment <c>{seq:D16}.wal</c>: a 32-byte header (<c>magic "CNCLWAL\0" | version u32 | reserved u32 | seq u64 |
/// crc32 of the first 24 bytes u32 | reserved u32</c>), then frames, then zeros. Segments are zero-filled to their
/// size before the first write (a spare is prepared in the background while the active one fills), so a flush
/// overwrites allocated blocks and changes no file size: <c>fdatasync</c> then writes the data and nothing else.
/// </para>
/// <para>
/// Frame: <c>body length u32 | crc32(body) u32 | body</c>, written with one <c>pwritev</c> and made durable with
/// one <c>fdatasync</c> before anyone is told. Body: records <c>kind u8 | length u32 | data</c>. An entry record is
/// <c>index i64 | term i64 | flags u8 | command id i32 | payload</c>; every frame ends with a state record
/// <c>term i64 | commit i64 | has vote u8 | vote (ClusterMemberId)</c>, so every segment's first frame carries the
/// member's persistent state and older segments can be deleted. An entry whose index is at or below the last one
/// read replaces it and everything after it (a follower's log overwritten by a new leader).
/// </para>
/// <para>
/// Reading back: the first zero frame header ends a segment. A frame that fails its checksum (or claims more
/// bytes than are left) in the newest segment that has frames is a torn write from a crash: it was never
/// acknowledged (acknowledgement follows the <c>fdatasync</c>), and it and everything after it is cut. The same in
/// an older segment, whose frames were all durable before the next segment was started, is damage: the log keeps
/// its longest intact prefix, copies the damaged files aside and says so at Critical level.
/// </para>
/// </remarks>
internal sealed class LogSegments : IDisposable
{
    public const int SegmentHeaderSize = 32;
    private const int FrameHeaderSize = 8;
    private const int RecordHeaderSize = 5;
    private const byte EntryRecord = 1;
    private const byte StateRecord = 2;
    private const int EntryFixedSize = 8 + 8 + 1 + 4;
    private const uint FormatVersion = 1;
    private const string Suffix = ".wal";
    private static readonly int StateSize = 8 + 8 + 1 + DotNext.Net.Cluster.ClusterMemberId.Size;
    private static ReadOnlySpan<byte> Magic => "CNCLWAL\0"u8;

    private readonly string directory;
    private readonly long segmentSize;
    private readonly ILogger logger;
    // Changed only by the flusher thread (Append, DetachThrough); the lock is for readers of Files.
    private readonly List<Segment> segments;
    private SafeFileHandle? handle;
    private long writeOffset;
    private Task<string>? spare;
    private byte[] scratch = new byte[4096];
    private readonly List<ReadOnlyMemory<byte>> parts = [];
    private readonly List<(StoredEntry Entry, long PayloadOffset)> located = [];

    private LogSegments(string directory, long segmentSize, ILogger logger, List<Segment> segments, long writeOffset)
    {
        this.directory = directory;
        this.segmentSize = segmentSize;
        this.logger = logger;
        this.segments = segments;
        this.writeOffset = writeOffset;
    }

    /// <summary>The segment files, oldest first (for tests and diagnostics).</summary>
    public IReadOnlyList<string> Files
    {
        get
        {
            lock (segments)
            {
                return [.. segments.Select(static s => s.Path)];
            }
        }
    }

    /// <summary>
    /// Reads every segment in <paramref name="directory"/> into <paramref name="sink"/>, repairs a torn tail or
    /// damage as described on the class, and returns the files ready for appending.
    /// </summary>
    public static LogSegments Open(string directory, long segmentSize, long snapshotIndex, IReplaySink sink, TimeProvider time, ILogger logger)
    {
        PrivateFiles.CreateDirectory(directory);
        foreach (var stale in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            File.Delete(stale);
        }

        var files = Directory.EnumerateFiles(directory, "*" + Suffix)
            .Select(static p => (Path: p, Seq: ParseSeq(System.IO.Path.GetFileName(p))))
            .Where(static f => f.Seq > 0)
            .OrderBy(static f => f.Seq)
            .ToList();

        var kept = new List<Segment>();
        var reader = new ReplayReader(snapshotIndex, sink);
        long writeOffset = 0;
        string? unused = null;
        for (var i = 0; i < files.Count; i++)
        {
            var (path, seq) = files[i];
            var segmentReader = new SegmentReader(path);
            reader.Segment = segmentReader;
            var result = ReadSegment(path, seq, reader);
            if (result.Unused)
            {
                segmentReader.Dispose();
                // A spare prepared ahead of the writer and never used: zeros, as good as a new one. Only the
                // newest file can be one; anything else is left over and goes.
                if (i == files.Count - 1)
                {
                    unused = path;
                }
                else
                {
                    File.Delete(path);
                }

                continue;
            }

            kept.Add(new Segment(path, seq, result.MaxIndex) { Reader = segmentReader });
            writeOffset = result.End;
            if (result.Damage is null)
            {
                continue;
            }

            // Is this the newest segment with frames? Then the damage is where the last write was torn.
            var newest = files.Skip(i + 1).All(f => IsUnusedSegment(f.Path));
            if (newest && !result.NotTorn)
            {
                Log.WalTornTail(logger, path, result.End, result.DiscardedBytes, result.Damage);
            }
            else
            {
                var quarantine = $"{directory}.corrupt-{time.GetUtcNow().ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture)}";
                DurableFiles.CopyDirectory(directory, quarantine);
                Log.WalDamaged(logger, path, result.End, result.Damage, quarantine, reader.LastIndex);
            }

            ZeroFrom(path, result.End);
            foreach (var (later, _) in files.Skip(i + 1))
            {
                File.Delete(later);
            }

            break;
        }

        if (kept.Count > 0 && writeOffset < SegmentHeaderSize)
        {
            // Not even its header survived (torn first write): it is zeros now, so it becomes the spare.
            if (unused is not null)
            {
                File.Delete(unused);
            }

            unused = kept[^1].Path;
            kept[^1].Reader?.Dispose();
            kept.RemoveAt(kept.Count - 1);
            writeOffset = 0;
        }

        var log = new LogSegments(directory, segmentSize, logger, kept, writeOffset);
        if (kept.Count > 0)
        {
            log.handle = OpenForWrite(kept[^1].Path);
        }

        var next = kept.Count == 0 ? 1 : kept[^1].Seq + 1;
        if (unused is not null && ParseSeq(Path.GetFileName(unused)) == next)
        {
            log.spare = Task.FromResult(unused);
        }
        else
        {
            if (unused is not null)
            {
                File.Delete(unused);
            }

            if (kept.Count == 0)
            {
                // A new log: its first segment is zero-filled in the background while the member starts.
                log.spare = Task.Run(() => Prepare(directory, next, segmentSize));
            }
        }

        return log;
    }

    /// <summary>
    /// Writes <paramref name="entries"/> and the member's <paramref name="state"/> as one frame and returns once it is
    /// on disk (<c>fdatasync</c>). Starts a new segment first when the frame does not fit in the current one.
    /// </summary>
    public void Append(IReadOnlyList<StoredEntry> entries, in LogState state)
    {
        var body = StateSize + RecordHeaderSize;
        foreach (var entry in entries)
        {
            body += RecordHeaderSize + EntryFixedSize + entry.PayloadLength;
        }

        var frame = FrameHeaderSize + body;
        var current = segments.Count > 0 ? segments[^1] : null;
        var newSegment = handle is null || (writeOffset > SegmentHeaderSize && writeOffset + frame > current!.Capacity(segmentSize));
        var headerBytes = SegmentHeaderSize + FrameHeaderSize + (entries.Count * (RecordHeaderSize + EntryFixedSize)) + RecordHeaderSize + StateSize;
        if (scratch.Length < headerBytes)
        {
            scratch = new byte[Math.Max(headerBytes, scratch.Length * 2)];
        }

        parts.Clear();
        located.Clear();
        var at = 0;
        Segment? started = null;
        if (newSegment)
        {
            started = StartSegment();
            FormatSegmentHeader(scratch.AsSpan(0, SegmentHeaderSize), started.Seq);
            parts.Add(scratch.AsMemory(0, SegmentHeaderSize));
            at = SegmentHeaderSize;
        }

        var frameHeaderAt = at;
        at += FrameHeaderSize;
        var bodyStart = parts.Count + 1;
        parts.Add(scratch.AsMemory(frameHeaderAt, FrameHeaderSize));

        // Where each payload lands in the file: after this write, an evicted entry is read back from there.
        var fileAt = (started is not null ? 0 : writeOffset) + at;
        var maxIndex = 0L;
        foreach (var entry in entries)
        {
            var record = scratch.AsSpan(at, RecordHeaderSize + EntryFixedSize);
            record[0] = EntryRecord;
            BinaryPrimitives.WriteInt32LittleEndian(record[1..], EntryFixedSize + entry.PayloadLength);
            BinaryPrimitives.WriteInt64LittleEndian(record[5..], entry.Index);
            BinaryPrimitives.WriteInt64LittleEndian(record[13..], entry.Term);
            record[21] = (byte)((entry.IsConfiguration ? 1 : 0) | (entry.CommandId.HasValue ? 2 : 0));
            BinaryPrimitives.WriteInt32LittleEndian(record[22..], entry.CommandId.GetValueOrDefault());
            parts.Add(scratch.AsMemory(at, record.Length));
            at += record.Length;
            fileAt += record.Length;
            located.Add((entry, fileAt));
            if (entry.PayloadLength > 0)
            {
                parts.Add(entry.Payload);
                fileAt += entry.PayloadLength;
            }

            maxIndex = Math.Max(maxIndex, entry.Index);
        }

        var stateRecord = scratch.AsSpan(at, RecordHeaderSize + StateSize);
        stateRecord[0] = StateRecord;
        BinaryPrimitives.WriteInt32LittleEndian(stateRecord[1..], StateSize);
        FormatState(stateRecord[RecordHeaderSize..], state);
        parts.Add(scratch.AsMemory(at, stateRecord.Length));

        var crc = new Crc32();
        for (var i = bodyStart; i < parts.Count; i++)
        {
            crc.Append(parts[i].Span);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(scratch.AsSpan(frameHeaderAt), (uint)body);
        BinaryPrimitives.WriteUInt32LittleEndian(scratch.AsSpan(frameHeaderAt + 4), crc.GetCurrentHashAsUInt32());

        if (started is not null)
        {
            var previous = handle;
            handle = OpenForWrite(started.Path);
            started.Reader = new SegmentReader(started.Path);
            previous?.Dispose();
            lock (segments)
            {
                segments.Add(started);
            }

            writeOffset = 0;
        }

        RandomAccess.Write(handle!, parts, writeOffset);
        DurableFiles.DataSync(handle!);
        writeOffset += (started is not null ? SegmentHeaderSize : 0) + frame;
        var active = started ?? current!;
        active.MaxIndex = Math.Max(active.MaxIndex, maxIndex);
        parts.Clear();
        foreach (var (entry, offset) in located)
        {
            entry.Locate(active.Reader!, offset);
        }

        located.Clear();

        // Prepare the next segment while this one still has room, so a roll never waits for zeros.
        if (spare is null && writeOffset * 2 > active.Capacity(segmentSize))
        {
            var seq = active.Seq + 1;
            spare = Task.Run(() => Prepare(directory, seq, segmentSize));
        }
    }

    /// <summary>
    /// Takes out of the log the segments, oldest first, whose entries are all at or below
    /// <paramref name="snapshotIndex"/> (never the active one) and returns their files, for the caller to delete
    /// (unlinking a segment takes milliseconds here, which the flusher must not wait for).
    /// </summary>
    public List<string> DetachThrough(long snapshotIndex)
    {
        var detached = new List<string>();
        lock (segments)
        {
            while (segments.Count > 1 && segments[0].MaxIndex <= snapshotIndex)
            {
                detached.Add(segments[0].Path);
                segments[0].Reader?.Dispose();
                segments.RemoveAt(0);
            }
        }

        return detached;
    }

    public void Dispose()
    {
        handle?.Dispose();
        handle = null;
        lock (segments)
        {
            foreach (var segment in segments)
            {
                segment.Reader?.Dispose();
            }
        }

        try
        {
            // The log is synchronous by design (its flusher is a thread of its own that writes and fdatasyncs): this
            // joins the background preparation of the spare segment, so no file is written after disposal. Not an
            // async API waited on synchronously.
#pragma warning disable VSTHRD002
            spare?.Wait();
#pragma warning restore VSTHRD002
        }
        catch (AggregateException)
        {
            // A spare that could not be prepared is prepared again next time.
        }
    }

    private Segment StartSegment()
    {
        var seq = segments.Count == 0 ? 1 : segments[^1].Seq + 1;

        string path;
        var prepared = spare;
        spare = null;
        if (prepared is not null)
        {
            try
            {
                // On the flusher's thread (the log is synchronous by design): the active segment filled before the
                // spare was ready, so the flusher waits for it as it would for the disk. Not async code waited on.
#pragma warning disable VSTHRD002
                path = prepared.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
                if (ParseSeq(System.IO.Path.GetFileName(path)) == seq)
                {
                    return new Segment(path, seq, 0);
                }

                File.Delete(path);
            }
            catch (IOException e)
            {
                Log.WalSpareFailed(logger, e.Message);
            }
        }

        path = Prepare(directory, seq, segmentSize);
        return new Segment(path, seq, 0);
    }

    /// <summary>Creates segment <paramref name="seq"/> filled with zeros, durable with its directory entry.</summary>
    internal static string Prepare(string directory, long seq, long size)
    {
        var path = Path.Combine(directory, FileName(seq));
        var temp = path + ".tmp";
        using (var stream = PrivateFiles.Open(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            var zeros = new byte[Math.Min(size, 1024 * 1024)];
            for (long written = 0; written < size; written += zeros.Length)
            {
                stream.Write(zeros, 0, (int)Math.Min(zeros.Length, size - written));
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DurableFiles.FlushDirectory(directory);
        return path;
    }

    private static SafeFileHandle OpenForWrite(string path) =>
        File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);

    public static string FileName(long seq) => seq.ToString("D16", CultureInfo.InvariantCulture) + Suffix;

    private static long ParseSeq(string name) =>
        name.EndsWith(Suffix, StringComparison.Ordinal)
        && long.TryParse(name.AsSpan(0, name.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? seq
            : 0;

    private static void FormatSegmentHeader(Span<byte> header, long seq)
    {
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], seq);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], Crc32.HashToUInt32(header[..24]));
    }

    private static void FormatState(Span<byte> span, in LogState state)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span, state.Term);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], state.Commit);
        span[16] = state.Vote.HasValue ? (byte)1 : (byte)0;
        var vote = span.Slice(17, DotNext.Net.Cluster.ClusterMemberId.Size);
        if (state.Vote is { } id)
        {
            id.Format(vote);
        }
        else
        {
            vote.Clear();
        }
    }

    private static bool IsUnusedSegment(string path)
    {
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.ContainsAnyExcept((byte)0);
    }

    private sealed class SegmentReadResult
    {
        public bool Unused { get; init; }

        public long End { get; init; }

        public long MaxIndex { get; init; }

        public string? Damage { get; init; }

        /// <summary>Not a torn write even in the newest segment (a gap in the entries, or intact frames after the damage).</summary>
        public bool NotTorn { get; init; }

        public long DiscardedBytes { get; init; }
    }

    private static SegmentReadResult ReadSegment(string path, long seq, ReplayReader reader)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1024 * 1024, FileOptions.SequentialScan);
        var length = stream.Length;
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.ContainsAnyExcept((byte)0))
        {
            return new SegmentReadResult { Unused = true };
        }

        if (!header[..8].SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt32LittleEndian(header[24..]) != Crc32.HashToUInt32(header[..24])
            || BinaryPrimitives.ReadInt64LittleEndian(header[16..]) != seq)
        {
            return new SegmentReadResult { End = 0, Damage = "its segment header is not a Conclave log header", DiscardedBytes = length };
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version > FormatVersion)
        {
            throw new NewerFormatException(
                $"log segment {path} is format {version}, newer than this build's {FormatVersion}: it was written by a newer Conclave. " +
                "This member stops without changing the log. Upgrade the binary, or restore the member from a backup; see docs/upgrades.md.",
                "log segment", version, FormatVersion);
        }

        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Log segment {path} has format version {version}; this build reads version {FormatVersion}.");
        }

        long offset = SegmentHeaderSize;
        long maxIndex = 0;
        Span<byte> frameHeader = stackalloc byte[FrameHeaderSize];
        byte[] body = [];
        while (true)
        {
            if (offset + FrameHeaderSize > length || stream.ReadAtLeast(frameHeader, FrameHeaderSize, throwOnEndOfStream: false) < FrameHeaderSize)
            {
                return new SegmentReadResult { End = offset, MaxIndex = maxIndex };
            }

            var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(frameHeader);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(frameHeader[4..]);
            if (bodyLength == 0 && crc == 0)
            {
                return new SegmentReadResult { End = offset, MaxIndex = maxIndex };
            }

            string? damage = null;
            if (bodyLength > length - offset - FrameHeaderSize)
            {
                damage = $"a frame at offset {offset} claims {bodyLength} bytes, more than the segment holds";
            }
            else
            {
                if (body.Length < bodyLength)
                {
                    body = new byte[Math.Max(bodyLength, body.Length * 2)];
                }

                var span = body.AsSpan(0, (int)bodyLength);
                stream.ReadExactly(span);
                if (Crc32.HashToUInt32(span) != crc)
                {
                    damage = $"the frame at offset {offset} fails its checksum";
                }
                else
                {
                    var problem = reader.Frame(span, offset + FrameHeaderSize, ref maxIndex);
                    if (problem is not null)
                    {
                        return new SegmentReadResult { End = offset, MaxIndex = maxIndex, Damage = $"the frame at offset {offset}: {problem}", NotTorn = true, DiscardedBytes = length - offset };
                    }
                }
            }

            if (damage is not null)
            {
                // A torn write is the last thing in the file: an intact frame after it means the disk damaged
                // a frame that was written (and acknowledged) before others.
                var followed = bodyLength <= length - offset - FrameHeaderSize && IsIntactFrameAt(stream, offset + FrameHeaderSize + bodyLength);
                return new SegmentReadResult
                {
                    End = offset, MaxIndex = maxIndex, Damage = damage, NotTorn = followed, DiscardedBytes = NonZeroBytesFrom(stream, offset),
                };
            }

            offset += FrameHeaderSize + bodyLength;
        }
    }

    private static bool IsIntactFrameAt(FileStream stream, long offset)
    {
        Span<byte> header = stackalloc byte[FrameHeaderSize];
        stream.Position = offset;
        if (stream.ReadAtLeast(header, FrameHeaderSize, throwOnEndOfStream: false) < FrameHeaderSize)
        {
            return false;
        }

        var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (bodyLength == 0 || bodyLength > stream.Length - offset - FrameHeaderSize)
        {
            return false;
        }

        var body = new byte[bodyLength];
        stream.ReadExactly(body);
        return Crc32.HashToUInt32(body) == BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
    }

    /// <summary>Bytes from <paramref name="offset"/> up to the last non-zero byte of the file.</summary>
    private static long NonZeroBytesFrom(FileStream stream, long offset)
    {
        var buffer = new byte[64 * 1024];
        var last = offset;
        stream.Position = offset;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            var i = buffer.AsSpan(0, read).LastIndexOfAnyExcept((byte)0);
            if (i >= 0)
            {
                last = stream.Position - read + i + 1;
            }
        }

        return last - offset;
    }

    private static void ZeroFrom(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        var zeros = new byte[1024 * 1024];
        stream.Position = offset;
        for (var remaining = stream.Length - offset; remaining > 0; remaining -= zeros.Length)
        {
            stream.Write(zeros, 0, (int)Math.Min(zeros.Length, remaining));
        }

        stream.Flush(flushToDisk: true);
    }

    /// <summary>Applies the records of intact frames to the sink, checking that entry indexes have no gap.</summary>
    private sealed class ReplayReader
    {
        private readonly long snapshotIndex;
        private readonly IReplaySink sink;

        public ReplayReader(long snapshotIndex, IReplaySink sink)
        {
            this.snapshotIndex = snapshotIndex;
            this.sink = sink;
            LastIndex = snapshotIndex;
        }

        public long LastIndex { get; private set; }

        /// <summary>The segment being read: replayed entries leave their payloads there until they are asked for.</summary>
        public SegmentReader? Segment { get; set; }

        /// <returns>Null, or why the frame cannot be part of the log (its records are then not applied).</returns>
        public string? Frame(ReadOnlySpan<byte> body, long bodyOffset, ref long maxIndex)
        {
            // Check the whole frame before applying any of it: a frame is all or nothing.
            var last = LastIndex;
            for (var at = 0; at < body.Length;)
            {
                if (body.Length - at < RecordHeaderSize)
                {
                    return "a record header runs past the frame";
                }

                var kind = body[at];
                var length = BinaryPrimitives.ReadInt32LittleEndian(body[(at + 1)..]);
                if (length < 0 || length > body.Length - at - RecordHeaderSize)
                {
                    return "a record runs past the frame";
                }

                var data = body.Slice(at + RecordHeaderSize, length);
                if (kind == EntryRecord)
                {
                    if (length < EntryFixedSize)
                    {
                        return "an entry record is too short";
                    }

                    var index = BinaryPrimitives.ReadInt64LittleEndian(data);
                    if (index > last + 1 && index > snapshotIndex + 1)
                    {
                        return $"entry {index} follows entry {last}: entries are missing";
                    }

                    if (index > snapshotIndex)
                    {
                        last = index;
                    }
                }
                else if (kind == StateRecord)
                {
                    if (length != StateSize)
                    {
                        return "a state record has the wrong size";
                    }
                }
                else
                {
                    return $"unknown record kind {kind}";
                }

                at += RecordHeaderSize + length;
            }

            for (var at = 0; at < body.Length;)
            {
                var kind = body[at];
                var length = BinaryPrimitives.ReadInt32LittleEndian(body[(at + 1)..]);
                var data = body.Slice(at + RecordHeaderSize, length);
                if (kind == EntryRecord)
                {
                    var index = BinaryPrimitives.ReadInt64LittleEndian(data);
                    maxIndex = Math.Max(maxIndex, index);
                    if (index > snapshotIndex)
                    {
                        var flags = data[16];
                        var term = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
                        int? commandId = (flags & 2) != 0 ? BinaryPrimitives.ReadInt32LittleEndian(data[17..]) : null;
                        var payloadOffset = bodyOffset + at + RecordHeaderSize + EntryFixedSize;

                        // The payload stays in the segment (read when applied or sent): a restart does not hold the
                        // whole log in memory.
                        sink.Entry(Segment is { } segment
                            ? new StoredEntry(index, term, length - EntryFixedSize, (flags & 1) != 0, commandId, segment, payloadOffset)
                            : new StoredEntry(index, term, data[EntryFixedSize..].ToArray(), (flags & 1) != 0, commandId));
                        LastIndex = index;
                    }
                }
                else
                {
                    DotNext.Net.Cluster.ClusterMemberId? vote = data[16] != 0
                        ? new DotNext.Net.Cluster.ClusterMemberId(data.Slice(17, DotNext.Net.Cluster.ClusterMemberId.Size))
                        : null;
                    sink.State(new LogState(BinaryPrimitives.ReadInt64LittleEndian(data), BinaryPrimitives.ReadInt64LittleEndian(data[8..]), vote));
                }

                at += RecordHeaderSize + length;
            }

            return null;
        }
    }

    private sealed class Segment(string path, long seq, long maxIndex)
    {
        public string Path { get; } = path;

        public long Seq { get; } = seq;

        /// <summary>The highest entry index written into this segment.</summary>
        public long MaxIndex { get; set; } = maxIndex;

        /// <summary>Reads payloads of entries evicted from memory (null until the segment is first written).</summary>
        public SegmentReader? Reader { get; set; }

        private long capacity = -1;

        public long Capacity(long configured)
        {
            if (capacity < 0)
            {
                capacity = Math.Max(configured, new FileInfo(Path).Length);
            }

            return capacity;
        }
    }
}

/// <summary>What the log persists besides entries: Raft's term and vote, and the commit index known when written.</summary>
internal readonly record struct LogState(long Term, long Commit, DotNext.Net.Cluster.ClusterMemberId? Vote);

/// <summary>Receives the log's records in order as <see cref="LogSegments.Open"/> reads them back.</summary>
internal interface IReplaySink
{
    /// <summary>An entry; one at or below the last index replaces it and everything after it.</summary>
    void Entry(StoredEntry entry);

    void State(in LogState state);
}

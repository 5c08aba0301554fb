using System.Text;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Api.Raft;
using Conclave.Storage.Auth;
using Conclave.Storage.Mvcc;
using Conclave.Storage.Watch;
using Google.Protobuf;

namespace Conclave.Storage;

public sealed partial class KeyValueStore
{
    internal static readonly byte[] SnapshotMagic = "CNCLSNAP"u8.ToArray();
    // 2 adds the system keyspace (ADR 0012) after the user's keys; 3 adds each lease's keyspace; 4 adds the auth store
    // (ADR 0014) after the system keyspace. 1 to 3 are still read (a lease of theirs that holds system keys only is the
    // system keyspace's; their auth store is empty, as auth did not exist).
    internal const int SnapshotFormatVersion = 4;
    internal const int OldestSnapshotFormatVersion = 1;
    internal const uint SnapshotTrailer = 0x454E4421; // "END!"

    // The fewest bytes each record takes, which bounds a count by the bytes that remain.
    internal const int AlarmRecordBytes = 8 + 4;
    internal const int LeaseRecordBytes = 8 + 8 + 1;
    internal const int KeyRecordBytes = 1 + 4; // empty key, version count
    internal const int VersionRecordBytes = 8 + 4 + 1; // tombstone

    /// <summary>
    /// Writes the whole state (every retained revision of both keyspaces, leases, alarms, the auth store) in snapshot
    /// format 4, as of now: <see cref="CaptureSnapshot"/> and write it at once.
    /// </summary>
    public void WriteSnapshot(Stream destination)
    {
        using var capture = CaptureSnapshot();
        capture.WriteTo(destination);
    }

    /// <summary>
    /// Freezes the state as of now for a snapshot, in one pass over the keys under the read lock (milliseconds per
    /// hundred thousand keys), and returns it to be written later, on any thread, while writes go on: values are
    /// immutable and histories only grow at their end, so the frozen versions stay as they were. A compaction waits for
    /// the captures under way to be written or disposed (ADR 0017). Dispose the capture when done with it.
    /// </summary>
    public SnapshotCapture CaptureSnapshot()
    {
        var head = new MemoryStream();
        gate.EnterReadLock();
        try
        {
            using (var w = new BinaryWriter(head, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(SnapshotMagic);
                w.Write(SnapshotFormatVersion);
                w.Write(appliedIndex);
                w.Write(keyspace.Revision);
                w.Write(keyspace.CompactRevision);
                w.Write(alarms.Count);
                foreach (var (member, alarm) in alarms)
                {
                    w.Write(member);
                    w.Write((int)alarm);
                }

                // In id order: the table's own order depends on its history of grants and revokes, which differs between
                // a member that applied the whole log and one that installed a snapshot midway.
                w.Write(leases.Count);
                foreach (var lease in leases.All.OrderBy(static l => l.Id))
                {
                    w.Write(lease.Id);
                    w.Write(lease.Ttl);
                    w.Write((byte)lease.Keyspace);
                }
            }

            lock (captureLock)
            {
                captures++;
            }

            return new SnapshotCapture(this, head.ToArray(), keyspace.Freeze(), keyspace.SnapshotKeysBytes, system.Revision, system.CompactRevision, system.Freeze(),
                system.SnapshotKeysBytes, auth.ToSnapshot().ToByteArray());
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Called on the apply thread before a compaction: waits until no snapshot capture is being written.</summary>
    private void WaitForCaptures()
    {
        lock (captureLock)
        {
            while (captures > 0)
            {
                Monitor.Wait(captureLock);
            }
        }
    }

    private void EndCapture()
    {
        lock (captureLock)
        {
            captures--;
            Monitor.PulseAll(captureLock);
        }
    }

    /// <summary>A state frozen by <see cref="CaptureSnapshot"/>, written by <see cref="WriteTo"/>.</summary>
    public sealed class SnapshotCapture : IDisposable
    {
        private readonly KeyValueStore owner;
        private readonly byte[] head;
        private readonly FrozenKeyspace user;
        private readonly long systemRevision;
        private readonly long systemCompactRevision;
        private readonly FrozenKeyspace system;
        private readonly byte[] authBytes;
        private int ended;

        internal SnapshotCapture(
            KeyValueStore owner, byte[] head, FrozenKeyspace user, long userBytes, long systemRevision, long systemCompactRevision, FrozenKeyspace system,
            long systemBytes, byte[] authBytes)
        {
            this.owner = owner;
            this.head = head;
            this.user = user;
            this.systemRevision = systemRevision;
            this.systemCompactRevision = systemCompactRevision;
            this.system = system;
            this.authBytes = authBytes;
            // The keyspaces keep their sections' sizes as they change: no pass over the keys here (ADR 0017).
            Length = head.Length + userBytes + 16 + systemBytes + SnapshotSizes.Length7Bit(authBytes.Length) + authBytes.Length + 4;
        }

        /// <summary>The image's exact length in bytes, known before it is written (it sets the next snapshot point).</summary>
        public long Length { get; }

        /// <summary>Writes the image; may run on any thread, concurrently with applies. Once only.</summary>
        public void WriteTo(Stream destination)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref ended) != 0, this);
            try
            {
                // A snapshot is millions of small fields: buffered here, the destination (a file and its hash) sees 256
                // KiB writes instead of one call per field (a 1 GB image: about 9 million calls fewer).
                using var buffered = new BufferedStream(new NonClosingStream(destination), 256 * 1024);
                using var w = new BinaryWriter(buffered, Encoding.UTF8, leaveOpen: true);
                w.Write(head);
                WriteKeys(w, user);
                w.Write(systemRevision);
                w.Write(systemCompactRevision);
                WriteKeys(w, system);
                WriteBytes(w, authBytes);
                w.Write(SnapshotTrailer);
                w.Flush();
            }
            finally
            {
                Dispose();
            }
        }

        /// <summary>Lets compactions run again (a capture never written must still be disposed).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref ended, 1) == 0)
            {
                owner.EndCapture();
            }
        }
    }

    /// <summary>Replaces the whole state with a snapshot written by <see cref="WriteSnapshot"/>.</summary>
    /// <remarks>
    /// The image is untrusted (it also comes from the leader): it is parsed and checked whole before the state is
    /// touched, no allocation is larger than the bytes that remain (see <see cref="SnapshotReader"/>), and anything
    /// malformed leaves the store as it was.
    /// </remarks>
    /// <exception cref="InvalidDataException">The image is truncated, malformed or inconsistent (the message names the field and offset).</exception>
    public void RestoreSnapshot(Stream source)
    {
        var r = new SnapshotReader(source);
        Span<byte> magic = stackalloc byte[SnapshotMagic.Length];
        r.ReadExactly(magic);
        if (!magic.SequenceEqual(SnapshotMagic))
        {
            throw new InvalidDataException("not a Conclave snapshot (bad magic)");
        }

        var format = r.ReadInt32();
        if (format is < OldestSnapshotFormatVersion or > SnapshotFormatVersion)
        {
            throw new InvalidDataException(format > SnapshotFormatVersion
                ? $"snapshot format {format} is newer than this build's {SnapshotFormatVersion}: it was written by a newer Conclave. Upgrade the binary, or restore from a backup it can read (docs/upgrades.md)"
                : $"snapshot format {format} is not readable by this build (reads formats {OldestSnapshotFormatVersion} to {SnapshotFormatVersion})");
        }

        var index = r.ReadInt64();
        var revision = r.ReadInt64();
        var compactRevision = r.ReadInt64();
        if (index < 0 || revision < 0 || compactRevision < 0 || compactRevision > revision)
        {
            throw new InvalidDataException($"snapshot header is inconsistent: applied index {index}, revision {revision}, compact revision {compactRevision}");
        }

        var alarmCount = r.ReadCount("alarm", AlarmRecordBytes);
        var restoredAlarms = new List<(ulong, AlarmType)>(r.Capacity(alarmCount));
        for (var n = alarmCount; n > 0; n--)
        {
            var member = r.ReadUInt64();
            var alarm = (AlarmType)r.ReadInt32();
            if (alarm is not (AlarmType.Nospace or AlarmType.Corrupt))
            {
                throw new InvalidDataException($"snapshot alarm before offset {r.Position} has unknown type {(int)alarm}");
            }

            restoredAlarms.Add((member, alarm));
        }

        var leaseCount = r.ReadCount("lease", format >= 3 ? LeaseRecordBytes : LeaseRecordBytes - 1);
        var restoredLeases = new List<(long Id, long Ttl, KeyspaceKind? Keyspace)>(r.Capacity(leaseCount));
        var leaseIds = new HashSet<long>(r.Capacity(leaseCount));
        for (var n = leaseCount; n > 0; n--)
        {
            var (id, ttl) = (r.ReadInt64(), r.ReadInt64());
            if (id == 0 || !leaseIds.Add(id))
            {
                throw new InvalidDataException($"snapshot lease before offset {r.Position} has id {id}, which is 0 or repeated");
            }

            KeyspaceKind? leaseKeyspace = null;
            if (format >= 3)
            {
                leaseKeyspace = (KeyspaceKind)r.ReadByte();
                if (leaseKeyspace is not (KeyspaceKind.User or KeyspaceKind.System))
                {
                    throw new InvalidDataException($"snapshot lease before offset {r.Position} names keyspace {(int)leaseKeyspace}, which this build does not know");
                }
            }

            restoredLeases.Add((id, ttl, leaseKeyspace));
        }

        var values = new ValueArena();
        var rows = new HistoryRows();
        var histories = ReadKeys(r, revision, "", values, rows);
        CheckRetainedRevisions(histories, revision, compactRevision, "");

        // Format 1 has no system keyspace: it restores empty, at revision 1.
        var (systemRevision, systemCompactRevision) = (1L, 0L);
        List<KeyHistory> systemHistories = [];
        var systemValues = new ValueArena();
        var systemRows = new HistoryRows();
        if (format >= 2)
        {
            (systemRevision, systemCompactRevision) = (r.ReadInt64(), r.ReadInt64());
            if (systemRevision < 1 || systemCompactRevision < 0 || systemCompactRevision > systemRevision)
            {
                throw new InvalidDataException($"snapshot system keyspace header before offset {r.Position} is inconsistent: revision {systemRevision}, compact revision {systemCompactRevision}");
            }

            systemHistories = ReadKeys(r, systemRevision, "system ", systemValues, systemRows);
            CheckRetainedRevisions(systemHistories, systemRevision, systemCompactRevision, "system ");
        }

        var restoredAuth = AuthState.Initial;
        if (format >= 4)
        {
            var offset = r.Position;
            try
            {
                restoredAuth = AuthStore.Parse(AuthSnapshot.Parser.ParseFrom(r.ReadBytes("auth section")));
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"snapshot auth section at offset {offset} does not parse: {e.Message}", e);
            }
        }

        if (r.ReadUInt32() != SnapshotTrailer)
        {
            throw new InvalidDataException($"snapshot is corrupt: no trailer at offset {r.Position - 4}");
        }

        gate.EnterWriteLock();
        try
        {
            keyspace.Restore(revision, compactRevision, rows, histories, values);
            system.Restore(systemRevision, systemCompactRevision, systemRows, systemHistories, systemValues);
            auth.Restore(restoredAuth);
            alarms.Clear();
            foreach (var a in restoredAlarms)
            {
                alarms.Add(a);
            }

            leases.Clear();
            foreach (var (id, ttl, leaseKeyspace) in restoredLeases)
            {
                leases.Grant(id, ttl, leaseKeyspace ?? KeyspaceKind.User);
            }

            foreach (var (space, restored) in new[] { (KeyspaceKind.User, histories), (KeyspaceKind.System, systemHistories) })
            {
                foreach (var history in restored)
                {
                    if (history.TryGetLatest(out var live) && live.Lease != 0)
                    {
                        leases.Attach(live.Lease, history.Key, space);
                    }
                }
            }

            // Formats 1 and 2 do not say whose a lease is: one that holds system keys only was granted for them.
            foreach (var (id, _, leaseKeyspace) in restoredLeases)
            {
                if (leaseKeyspace is null && leases.Find(id) is { Keys.Count: 0, SystemKeys.Count: > 0 } systemLease)
                {
                    systemLease.Keyspace = KeyspaceKind.System;
                }
            }

            Volatile.Write(ref appliedIndex, index);
            Volatile.Write(ref appliedSizeBytes, UsedBytes);
        }
        finally
        {
            gate.ExitWriteLock();
        }

        Signal.Publish(revision);
        SystemKeyspace.Signal.Publish(systemRevision);
    }

    /// <summary>A keyspace's key section: the key count, then every key with every version it had when frozen.</summary>
    private static void WriteKeys(BinaryWriter w, FrozenKeyspace frozen)
    {
        w.Write(frozen.Count);
        foreach (var history in frozen.Ordered())
        {
            WriteBytes(w, history.KeySpan);
            var count = history.CountAtOrBefore(frozen.Revision);
            w.Write(count);
            foreach (ref readonly var v in history.FrozenVersions(count))
            {
                w.Write(v.Main);
                w.Write(v.Sub);
                if (!v.IsTombstone)
                {
                    w.Write((byte)1);
                    w.Write(v.CreateRevision);
                    w.Write(v.Version);
                    w.Write(v.Lease);
                    WriteBytes(w, v.ValueSpan);
                }
                else
                {
                    w.Write((byte)0);
                }
            }
        }
    }

    /// <summary>
    /// Refuses an image whose retained versions leave most revisions since the compaction missing. A keyspace keeps every
    /// version at or after its compaction, so a real image misses none of them; the event log keeps a place per revision
    /// from the compaction on (EventLog), and a crafted image claiming revision 2^50 with two versions would have it
    /// allocate for every one. Allowed: as many missing as present, and a segment more.
    /// </summary>
    private static void CheckRetainedRevisions(List<KeyHistory> histories, long revision, long compactRevision, string which)
    {
        long retained = 0;
        foreach (var h in histories)
        {
            foreach (ref readonly var v in h.Versions)
            {
                retained += v.Main >= compactRevision ? 1 : 0;
            }
        }

        var span = revision - Math.Max(1, compactRevision) + 1;
        if (span - retained > retained + SegmentedLog<int>.SegmentLength)
        {
            throw new InvalidDataException(
                $"snapshot {which}keys retain {retained} versions from compact revision {compactRevision} to revision {revision}: a keyspace keeps every revision since its compaction");
        }
    }

    /// <summary>Reads and checks a key section written by <see cref="WriteKeys"/> for a keyspace at <paramref name="revision"/>.</summary>
    private static List<KeyHistory> ReadKeys(SnapshotReader r, long revision, string which, ValueArena values, HistoryRows rows)
    {
        var keyCount = r.ReadCount($"{which}key", KeyRecordBytes);
        var histories = new List<KeyHistory>(r.Capacity(keyCount));
        for (var n = keyCount; n > 0; n--)
        {
            // Read straight into the arena, as the values are: no array per key (ADR 0017).
            var key = r.ReadValue($"{which}key", values);
            if (histories.Count > 0 && histories[^1].KeySpan.SequenceCompareTo(key.Span) >= 0)
            {
                throw new InvalidDataException($"snapshot {which}key before offset {r.Position} is out of order or repeated");
            }

            var history = rows.New(key);
            (long Main, int Sub) previous = (0, 0);
            for (var m = r.ReadCount($"{which}version", VersionRecordBytes); m > 0; m--)
            {
                var main = r.ReadInt64();
                var sub = r.ReadInt32();
                if (main < 1 || main > revision || sub < 0 || (main, sub).CompareTo(previous) <= 0)
                {
                    throw new InvalidDataException(
                        $"snapshot {which}version before offset {r.Position} is at revision ({main}, {sub}): outside 1..{revision} or not after the key's previous version");
                }

                previous = (main, sub);
                KeyVersion version;
                switch (r.ReadByte())
                {
                    case 0:
                        version = KeyVersion.Tombstone(main, sub);
                        break;
                    case 1:
                        var (create, number, lease) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

                        // Read straight into the restored keyspace's arena: no array per value (ADR 0017).
                        version = new KeyVersion(main, sub, create, number, lease, r.ReadValue($"{which}value", values, lease));
                        break;
                    case var flag:
                        throw new InvalidDataException($"snapshot {which}version before offset {r.Position} has value flag {flag} (0 or 1 expected)");
                }

                history.Append(version);
            }

            histories.Add(history);
        }

        return histories;
    }

    private static void WriteBytes(BinaryWriter w, ReadOnlySpan<byte> bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }
}

/// <summary>Reads and writes through to a stream it does not own (disposing it leaves that stream open).</summary>
internal sealed class NonClosingStream(Stream inner) : Stream
{
    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Bytes written through this stream.</summary>
    public long Written { get; private set; }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Written += count;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        Written += buffer.Length;
    }

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

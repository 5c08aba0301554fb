using System.Text;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage;

public sealed partial class KeyValueStore
{
    private static readonly byte[] SnapshotMagic = "CNCLSNAP"u8.ToArray();
    private const int SnapshotFormatVersion = 1;
    private const uint SnapshotTrailer = 0x454E4421; // "END!"

    /// <summary>
    /// Writes the whole state (every retained revision, leases, alarms) in snapshot format 1. Holds the read
    /// lock, so reads continue while applies wait for the image to be consistent.
    /// </summary>
    public void WriteSnapshot(Stream destination)
    {
        using var w = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
        gate.EnterReadLock();
        try
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

            w.Write(leases.Count);
            foreach (var lease in leases.All)
            {
                w.Write(lease.Id);
                w.Write(lease.Ttl);
            }

            w.Write(keyspace.KeyCount);
            foreach (var history in keyspace.AllHistories)
            {
                WriteBytes(w, history.Key.Span);
                w.Write(history.Count);
                foreach (var v in history.Versions)
                {
                    w.Write(v.Main);
                    w.Write(v.Sub);
                    if (v.Value is { } kv)
                    {
                        w.Write((byte)1);
                        w.Write(kv.CreateRevision);
                        w.Write(kv.Version);
                        w.Write(kv.Lease);
                        WriteBytes(w, kv.Value.Span);
                    }
                    else
                    {
                        w.Write((byte)0);
                    }
                }
            }

            w.Write(SnapshotTrailer);
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    /// <summary>Replaces the whole state with a snapshot written by <see cref="WriteSnapshot"/>.</summary>
    public void RestoreSnapshot(Stream source)
    {
        using var r = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
        if (!r.ReadBytes(SnapshotMagic.Length).AsSpan().SequenceEqual(SnapshotMagic))
        {
            throw new InvalidDataException("not a Conclave snapshot (bad magic)");
        }

        var format = r.ReadInt32();
        if (format != SnapshotFormatVersion)
        {
            throw new InvalidDataException($"snapshot format {format} is not readable by this build (reads format {SnapshotFormatVersion})");
        }

        var index = r.ReadInt64();
        var revision = r.ReadInt64();
        var compactRevision = r.ReadInt64();
        var restoredAlarms = new List<(ulong, AlarmType)>();
        for (var n = r.ReadInt32(); n > 0; n--)
        {
            restoredAlarms.Add((r.ReadUInt64(), (AlarmType)r.ReadInt32()));
        }

        var restoredLeases = new List<(long Id, long Ttl)>();
        for (var n = r.ReadInt32(); n > 0; n--)
        {
            restoredLeases.Add((r.ReadInt64(), r.ReadInt64()));
        }

        var histories = new List<KeyHistory>();
        for (var n = r.ReadInt32(); n > 0; n--)
        {
            var key = ByteString.CopyFrom(ReadBytes(r));
            var history = new KeyHistory(key);
            for (var m = r.ReadInt32(); m > 0; m--)
            {
                var main = r.ReadInt64();
                var sub = r.ReadInt32();
                KeyValue? kv = null;
                if (r.ReadByte() == 1)
                {
                    kv = new KeyValue { Key = key, ModRevision = main, CreateRevision = r.ReadInt64(), Version = r.ReadInt64(), Lease = r.ReadInt64() };
                    kv.Value = ByteString.CopyFrom(ReadBytes(r));
                }

                history.Append(new KeyVersion(main, sub, kv));
            }

            histories.Add(history);
        }

        if (r.ReadUInt32() != SnapshotTrailer)
        {
            throw new InvalidDataException("snapshot is truncated or corrupt (missing trailer)");
        }

        gate.EnterWriteLock();
        try
        {
            keyspace.Restore(revision, compactRevision, histories);
            alarms.Clear();
            foreach (var a in restoredAlarms)
            {
                alarms.Add(a);
            }

            leases.Clear();
            foreach (var (id, ttl) in restoredLeases)
            {
                leases.Grant(id, ttl);
            }

            foreach (var history in histories)
            {
                if (history.Latest is { Lease: not 0 } live)
                {
                    leases.Attach(live.Lease, history.Key);
                }
            }

            Volatile.Write(ref appliedIndex, index);
        }
        finally
        {
            gate.ExitWriteLock();
        }

        Signal.Publish(revision);
    }

    private static void WriteBytes(BinaryWriter w, ReadOnlySpan<byte> bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r)
    {
        var length = r.Read7BitEncodedInt();
        var bytes = r.ReadBytes(length);
        if (bytes.Length != length)
        {
            throw new EndOfStreamException("snapshot is truncated");
        }

        return bytes;
    }
}

using System.Text;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage.Auth;
using Google.Protobuf;

namespace Conclave.Storage;

/// <summary>
/// Reads a snapshot image (written by <see cref="KeyValueStore.WriteSnapshot"/>) record by record, without building a
/// state: to describe a backup (<see cref="Inspect"/>) and to turn one into the seed of a new cluster
/// (<see cref="Rewrite"/>). Memory stays bounded by the largest single key or value, whatever the image's size.
/// </summary>
/// <remarks>
/// The image is untrusted (a file an operator hands us): it gets the same checks as
/// <see cref="KeyValueStore.RestoreSnapshot"/> (counts and lengths against the bytes that remain, keys strictly
/// ascending, versions within the keyspace's revision, known flags, alarm and keyspace values, a parsable auth section,
/// the trailer), and every defect is an <see cref="InvalidDataException"/> naming the field and its offset.
/// </remarks>
public static class SnapshotImage
{
    /// <summary>Checks a whole image and describes it. The image is the rest of <paramref name="image"/> (bytes after its trailer are not read).</summary>
    /// <exception cref="InvalidDataException">The image is truncated, malformed or inconsistent.</exception>
    public static SnapshotImageSummary Inspect(Stream image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Walk(new SnapshotReader(image), w: null, rewrite: null, systemKeysOut: 0);
    }

    /// <summary>The applied index in an image's header (the header only is read and checked).</summary>
    /// <exception cref="InvalidDataException">The image does not start with a readable header.</exception>
    public static long ReadAppliedIndex(Stream image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var r = new SnapshotReader(image);
        Span<byte> magic = stackalloc byte[KeyValueStore.SnapshotMagic.Length];
        r.ReadExactly(magic);
        var format = r.ReadInt32();
        var index = r.ReadInt64();
        if (!magic.SequenceEqual(KeyValueStore.SnapshotMagic) || format is < KeyValueStore.OldestSnapshotFormatVersion or > KeyValueStore.SnapshotFormatVersion || index < 0)
        {
            throw new InvalidDataException($"not a Conclave snapshot image this build reads (magic, format {format}, applied index {index})");
        }

        return index;
    }

    /// <summary>
    /// Copies <paramref name="image"/> to <paramref name="destination"/> in the same format, changed as
    /// <paramref name="rewrite"/> says. Reads the image twice (the first pass counts what is dropped), so it must be
    /// seekable. Nothing is written unless the first pass found the image whole and consistent.
    /// </summary>
    /// <returns>What was written (<see cref="SnapshotImageSummary.Length"/> is the length written).</returns>
    /// <exception cref="InvalidDataException">The image is truncated, malformed or inconsistent.</exception>
    public static SnapshotImageSummary Rewrite(Stream image, Stream destination, SnapshotRewrite rewrite)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(rewrite);
        if (!image.CanSeek)
        {
            throw new ArgumentException("A rewrite reads the image twice: the stream must be seekable.", nameof(image));
        }

        var start = image.Position;
        var first = Walk(new SnapshotReader(image), w: null, rewrite, systemKeysOut: 0);
        image.Position = start;
        var counted = new NonClosingStream(destination);
        using var buffered = new BufferedStream(counted, 256 * 1024);
        using var w = new BinaryWriter(buffered, Encoding.UTF8, leaveOpen: true);
        var written = Walk(new SnapshotReader(image), w, rewrite, first.SystemKeys);
        w.Flush();
        if (written.SystemKeys != first.SystemKeys || written.Keys != first.Keys)
        {
            throw new InvalidDataException("snapshot changed while it was being rewritten");
        }

        return written with { Length = counted.Written };
    }

    private static SnapshotImageSummary Walk(SnapshotReader r, BinaryWriter? w, SnapshotRewrite? rewrite, long systemKeysOut)
    {
        Span<byte> magic = stackalloc byte[KeyValueStore.SnapshotMagic.Length];
        r.ReadExactly(magic);
        if (!magic.SequenceEqual(KeyValueStore.SnapshotMagic))
        {
            throw new InvalidDataException("not a Conclave snapshot image (bad magic)");
        }

        var format = r.ReadInt32();
        if (format is < KeyValueStore.OldestSnapshotFormatVersion or > KeyValueStore.SnapshotFormatVersion)
        {
            throw new InvalidDataException(
                $"snapshot format {format} is not readable by this build (reads formats {KeyValueStore.OldestSnapshotFormatVersion} to {KeyValueStore.SnapshotFormatVersion})");
        }

        var index = r.ReadInt64();
        var revision = r.ReadInt64();
        var compactRevision = r.ReadInt64();
        if (index < 0 || revision < 0 || compactRevision < 0 || compactRevision > revision)
        {
            throw new InvalidDataException($"snapshot header is inconsistent: applied index {index}, revision {revision}, compact revision {compactRevision}");
        }

        var outIndex = rewrite?.AppliedIndex ?? index;
        w?.Write(magic);
        w?.Write(format);
        w?.Write(outIndex);
        w?.Write(revision);
        w?.Write(compactRevision);

        var alarmCount = r.ReadCount("alarm", KeyValueStore.AlarmRecordBytes);
        var keepAlarms = rewrite is not { DropAlarms: true };
        w?.Write(keepAlarms ? alarmCount : 0);
        for (var n = alarmCount; n > 0; n--)
        {
            var member = r.ReadUInt64();
            var alarm = r.ReadInt32();
            if ((AlarmType)alarm is not (AlarmType.Nospace or AlarmType.Corrupt))
            {
                throw new InvalidDataException($"snapshot alarm before offset {r.Position} has unknown type {alarm}");
            }

            if (keepAlarms)
            {
                w?.Write(member);
                w?.Write(alarm);
            }
        }

        var leaseCount = r.ReadCount("lease", format >= 3 ? KeyValueStore.LeaseRecordBytes : KeyValueStore.LeaseRecordBytes - 1);
        w?.Write(leaseCount);
        // Ids only, to refuse repeats as a restore would: 8 bytes of memory per 16+ bytes of image at most.
        var leaseIds = new HashSet<long>(r.Capacity(Math.Min(leaseCount, 1 << 20)));
        for (var n = leaseCount; n > 0; n--)
        {
            var (id, ttl) = (r.ReadInt64(), r.ReadInt64());
            if (id == 0 || !leaseIds.Add(id))
            {
                throw new InvalidDataException($"snapshot lease before offset {r.Position} has id {id}, which is 0 or repeated");
            }

            w?.Write(id);
            w?.Write(ttl);
            if (format >= 3)
            {
                var leaseKeyspace = r.ReadByte();
                if ((KeyspaceKind)leaseKeyspace is not (KeyspaceKind.User or KeyspaceKind.System))
                {
                    throw new InvalidDataException($"snapshot lease before offset {r.Position} names keyspace {leaseKeyspace}, which this build does not know");
                }

                w?.Write(leaseKeyspace);
            }
        }

        var user = WalkKeys(r, w, revision, "", drop: null, keysOut: -1);
        var system = new KeySection(0, 0, 0, 0);
        var (systemRevision, systemCompactRevision) = (1L, 0L);
        if (format >= 2)
        {
            (systemRevision, systemCompactRevision) = (r.ReadInt64(), r.ReadInt64());
            if (systemRevision < 1 || systemCompactRevision < 0 || systemCompactRevision > systemRevision)
            {
                throw new InvalidDataException(
                    $"snapshot system keyspace header before offset {r.Position} is inconsistent: revision {systemRevision}, compact revision {systemCompactRevision}");
            }

            w?.Write(systemRevision);
            w?.Write(systemCompactRevision);
            system = WalkKeys(r, w, systemRevision, "system ", rewrite?.DropSystemKeyPrefix, systemKeysOut);
        }

        var (authEnabled, users, roles) = (false, 0, 0);
        if (format >= 4)
        {
            var offset = r.Position;
            var bytes = r.ReadBytes("auth section");
            try
            {
                var auth = AuthSnapshot.Parser.ParseFrom(bytes);
                AuthStore.Parse(auth);
                (authEnabled, users, roles) = (auth.Enabled, auth.Users.Count, auth.Roles.Count);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"snapshot auth section at offset {offset} does not parse: {e.Message}", e);
            }

            w?.Write7BitEncodedInt(bytes.Length);
            w?.Write(bytes);
        }

        if (r.ReadUInt32() != KeyValueStore.SnapshotTrailer)
        {
            throw new InvalidDataException($"snapshot is corrupt: no trailer at offset {r.Position - 4}");
        }

        w?.Write(KeyValueStore.SnapshotTrailer);
        return new SnapshotImageSummary
        {
            FormatVersion = format,
            AppliedIndex = outIndex,
            Revision = revision,
            CompactRevision = compactRevision,
            Keys = user.LiveKeys,
            Versions = user.Versions,
            SystemRevision = systemRevision,
            SystemCompactRevision = systemCompactRevision,
            SystemKeys = system.Keys,
            SystemKeysDropped = system.Dropped,
            Leases = leaseCount,
            Alarms = keepAlarms ? alarmCount : 0,
            AuthEnabled = authEnabled,
            Users = users,
            Roles = roles,
            Length = r.Position,
        };
    }

    private readonly record struct KeySection(long Keys, long LiveKeys, long Versions, long Dropped);

    /// <summary>
    /// One keyspace's key section. <paramref name="keysOut"/> is the key count to write (known from a first pass) when
    /// keys under <paramref name="drop"/> are left out; -1 writes the count read.
    /// </summary>
    private static KeySection WalkKeys(SnapshotReader r, BinaryWriter? w, long revision, string which, string? drop, long keysOut)
    {
        var dropPrefix = drop is null ? null : Encoding.UTF8.GetBytes(drop);
        var keyCount = r.ReadCount($"{which}key", KeyValueStore.KeyRecordBytes);
        if (w is not null)
        {
            w.Write(keysOut < 0 ? keyCount : checked((int)keysOut));
        }

        byte[]? previousKey = null;
        var (kept, live, versions, dropped) = (0L, 0L, 0L, 0L);
        for (var n = keyCount; n > 0; n--)
        {
            var key = r.ReadBytes($"{which}key");
            if (previousKey is not null && previousKey.AsSpan().SequenceCompareTo(key) >= 0)
            {
                throw new InvalidDataException($"snapshot {which}key before offset {r.Position} is out of order or repeated");
            }

            previousKey = key;
            var keep = dropPrefix is null || !key.AsSpan().StartsWith(dropPrefix);
            var versionCount = r.ReadCount($"{which}version", KeyValueStore.VersionRecordBytes);
            if (keep)
            {
                kept++;
                versions += versionCount;
                if (w is not null)
                {
                    w.Write7BitEncodedInt(key.Length);
                    w.Write(key);
                    w.Write(versionCount);
                }
            }
            else
            {
                dropped++;
            }

            (long Main, int Sub) previous = (0, 0);
            var latestLive = false;
            for (var m = versionCount; m > 0; m--)
            {
                var main = r.ReadInt64();
                var sub = r.ReadInt32();
                if (main < 1 || main > revision || sub < 0 || (main, sub).CompareTo(previous) <= 0)
                {
                    throw new InvalidDataException(
                        $"snapshot {which}version before offset {r.Position} is at revision ({main}, {sub}): outside 1..{revision} or not after the key's previous version");
                }

                previous = (main, sub);
                var flag = r.ReadByte();
                var output = keep ? w : null;
                output?.Write(main);
                output?.Write(sub);
                output?.Write(flag);
                switch (flag)
                {
                    case 0:
                        latestLive = false;
                        break;
                    case 1:
                        var (create, version, lease) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
                        var value = r.ReadBytes($"{which}value");
                        output?.Write(create);
                        output?.Write(version);
                        output?.Write(lease);
                        output?.Write7BitEncodedInt(value.Length);
                        output?.Write(value);
                        latestLive = true;
                        break;
                    default:
                        throw new InvalidDataException($"snapshot {which}version before offset {r.Position} has value flag {flag} (0 or 1 expected)");
                }
            }

            if (keep && latestLive)
            {
                live++;
            }
        }

        return new KeySection(kept, live, versions, dropped);
    }
}

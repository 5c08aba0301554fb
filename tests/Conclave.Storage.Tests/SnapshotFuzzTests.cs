using System.Buffers.Binary;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

/// <summary>
/// A snapshot is a parser of untrusted bytes: it arrives from the leader (InstallSnapshot) as well as from this
/// member's disk. Real images, mutated (flipped bytes, length and count fields set to huge values, cut short,
/// garbage), must either load or fail with <see cref="InvalidDataException"/>, never allocate by what a length field
/// claims, and never leave a half-restored store behind.
/// </summary>
public sealed class SnapshotFuzzTests
{
    private const int Iterations = 3000;

    /// <summary>
    /// Allocation allowed per restore: the valid image here allocates about 2.5x its size (keys, values, histories,
    /// rebuilt watch events; 185 KB for 73 KB); 32x plus 1 MiB leaves room for images of many small keys and is
    /// nowhere near what a length field can claim (up to 2 GiB).
    /// </summary>
    private static long AllocationBound(int inputLength) => (32L * inputLength) + (1 << 20);

    [Fact]
    public void Mutated_real_snapshots_load_or_fail_cleanly_with_bounded_allocation()
    {
        var image = RealImage();
        var fields = LengthAndCountFields(image);
        Assert.True(fields.Count > 50, $"the walker found {fields.Count} length/count fields");

        // The valid image loads (also through a stream that cannot tell its length) and is the yardstick.
        Assert.True(TryRestore(image, seekable: true, out _, out var validAllocation));
        Assert.True(TryRestore(image, seekable: false, out _, out _));
        Assert.InRange(validAllocation, 1, AllocationBound(image.Length));

        var random = new Random(18_009);
        var failures = new List<string>();
        for (var i = 0; i < Iterations && failures.Count < 5; i++)
        {
            var (mutated, how) = Mutate(image, fields, random);
            var seekable = i % 2 == 0;
            try
            {
                TryRestore(mutated, seekable, out _, out var allocated);
                if (allocated > AllocationBound(mutated.Length))
                {
                    failures.Add($"#{i} {how} (seekable {seekable}): allocated {allocated:N0} bytes for a {mutated.Length:N0}-byte image");
                }
            }
            catch (Exception e)
            {
                failures.Add($"#{i} {how} (seekable {seekable}): {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// <see cref="SnapshotImage"/> reads backup files record by record (<c>conclave snapshot status|restore</c>): on the
    /// same mutated images it must accept exactly what a restore accepts, fail only with
    /// <see cref="InvalidDataException"/>, allocate within the same bound, and a rewrite of an accepted image must
    /// restore.
    /// </summary>
    [Fact]
    public void Mutated_real_snapshots_are_inspected_and_rewritten_as_a_restore_would_load_them()
    {
        var image = RealImage();
        var fields = LengthAndCountFields(image);
        var random = new Random(24_004);
        var failures = new List<string>();
        var (accepted, refused) = (0, 0);
        for (var i = 0; i < Iterations && failures.Count < 5; i++)
        {
            var (mutated, how) = Mutate(image, fields, random);
            try
            {
                var restores = TryRestore(mutated, seekable: true, out _, out _);
                var start = GC.GetAllocatedBytesForCurrentThread();
                SnapshotImageSummary? summary = null;
                try
                {
                    summary = SnapshotImage.Inspect(new MemoryStream(mutated, writable: false));
                }
                catch (InvalidDataException)
                {
                }

                var allocated = GC.GetAllocatedBytesForCurrentThread() - start;
                if (allocated > AllocationBound(mutated.Length))
                {
                    failures.Add($"#{i} {how}: inspect allocated {allocated:N0} bytes for a {mutated.Length:N0}-byte image");
                }

                if ((summary is not null) != restores)
                {
                    failures.Add($"#{i} {how}: restore {(restores ? "loads" : "refuses")} it, inspect {(summary is null ? "refuses" : "accepts")} it");
                    continue;
                }

                if (summary is null)
                {
                    refused++;
                    continue;
                }

                accepted++;
                using var rewritten = new MemoryStream();
                SnapshotImage.Rewrite(new MemoryStream(mutated, writable: false), rewritten, new SnapshotRewrite { DropSystemKeyPrefix = "sys-0000000", DropAlarms = true });
                rewritten.Position = 0;
                using var store = new KeyValueStore();
                store.RestoreSnapshot(rewritten);
            }
            catch (Exception e)
            {
                failures.Add($"#{i} {how}: {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(refused > Iterations / 4, $"only {refused} of {Iterations} mutations were refused");
        Assert.True(accepted > 0, "no mutation was accepted (a flipped value byte should be)");
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(0x7FFF_FFC7)]
    [InlineData(1 << 30)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void Every_length_and_count_field_set_to_a_huge_or_negative_value_fails_cleanly(int value)
    {
        var image = RealImage();
        foreach (var field in LengthAndCountFields(image))
        {
            var mutated = WriteField(image, field, value);
            foreach (var seekable in new[] { true, false })
            {
                var loaded = TryRestore(mutated, seekable, out var error, out var allocated);
                Assert.False(loaded, $"{field} = {value} loaded");
                Assert.IsType<InvalidDataException>(error);
                Assert.True(allocated <= AllocationBound(mutated.Length), $"{field} = {value}: allocated {allocated:N0} bytes");
            }
        }
    }

    [Fact]
    public void A_failed_restore_leaves_the_store_as_it_was()
    {
        using var d = new StoreDriver();
        d.Put("mine", "kept");
        var before = d.Store.Revision;
        var image = RealImage();
        var duplicateKey = image.ToArray();
        var fields = LengthAndCountFields(image);

        // Every truncation point, and the second key renamed to the first (a duplicate, which the keyspace's index
        // would reject half-way through replacing the state).
        for (var cut = 0; cut < image.Length; cut += 7)
        {
            Assert.Throws<InvalidDataException>(() => d.Store.RestoreSnapshot(new MemoryStream(image[..cut])));
        }

        var keys = fields.Where(f => f.Kind == FieldKind.KeyLength).Take(2).ToList();
        image.AsSpan(keys[0].Offset + 1, 12).CopyTo(duplicateKey.AsSpan(keys[1].Offset + 1, 12));
        Assert.Throws<InvalidDataException>(() => d.Store.RestoreSnapshot(new MemoryStream(duplicateKey)));

        Assert.Equal(before, d.Store.Revision);
        Assert.Equal("kept", Assert.Single(d.Get("mine").Kvs).Value.ToStringUtf8());
        Assert.Empty(d.Get("key-", "key.").Kvs);
    }

    /// <summary>
    /// A snapshot of a store with alarms, leases, several versions per key, tombstones, a compaction and one large value,
    /// in both keyspaces.
    /// </summary>
    private static byte[] RealImage()
    {
        using var d = new StoreDriver();
        d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } });
        d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 8, TTL = 30 } });
        d.Apply(new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = 1, Alarm = Api.Etcd.AlarmType.Corrupt } });
        for (var i = 0; i < 60; i++)
        {
            d.Put($"key-{i % 20:D8}", $"value-{i}", lease: i % 7 == 0 ? 7 : 0);
        }

        d.Delete("key-00000003");
        d.Compact(10);
        d.Put("key-big.....", new string('x', 70_000));
        for (var i = 0; i < 20; i++)
        {
            d.Apply(new Command { Put = new PutRequest { Key = B($"sys-{i % 6:D8}"), Value = B($"system-{i}"), Lease = i % 5 == 0 ? 8 : 0 }, Keyspace = KeyspaceKind.System });
        }

        d.Apply(new Command { DeleteRange = new DeleteRangeRequest { Key = B("sys-00000002") }, Keyspace = KeyspaceKind.System });
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        return image.ToArray();
    }

    private static bool TryRestore(byte[] bytes, bool seekable, out Exception? error, out long allocated)
    {
        using var store = new KeyValueStore();
        Stream source = seekable ? new MemoryStream(bytes, writable: false) : new UnknownLengthStream(bytes);
        error = null;
        var start = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            store.RestoreSnapshot(source);
        }
        catch (InvalidDataException e)
        {
            error = e;
        }
        finally
        {
            allocated = GC.GetAllocatedBytesForCurrentThread() - start;
        }

        if (error is null)
        {
            // A loaded image is a usable store: it can be read and written.
            _ = store.Range(new RangeRequest { Key = B("\0"), RangeEnd = B("\0") });
            _ = store.Apply(store.AppliedIndex + 1, KeyValueStore.Encode([new Command { Put = new PutRequest { Key = B("after"), Value = B("v") } }]));
        }

        return error is null;
    }

    private static (byte[] Bytes, string How) Mutate(byte[] image, List<Field> fields, Random random)
    {
        var bytes = image.ToArray();
        switch (random.Next(6))
        {
            case 0:
                var flips = random.Next(1, 5);
                for (var i = 0; i < flips; i++)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                }

                return (bytes, $"{flips} flipped byte(s)");
            case 1:
            {
                var field = fields[random.Next(fields.Count)];
                var value = HugeValues[random.Next(HugeValues.Length)];
                return (WriteField(image, field, value), $"{field} = {value}");
            }

            case 2:
            {
                var field = fields[random.Next(fields.Count)];
                var value = random.Next(0, 64);
                return (WriteField(image, field, value), $"{field} = {value}");
            }

            case 3:
                var cut = random.Next(bytes.Length);
                return (bytes[..cut], $"cut to {cut} bytes");
            case 4:
                var at = random.Next(8, bytes.Length - 4);
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), HugeValues[random.Next(HugeValues.Length)]);
                return (bytes, $"int32 written at {at}");
            default:
                var garbage = new byte[random.Next(12, 4096)];
                random.NextBytes(garbage);
                image.AsSpan(0, 12).CopyTo(garbage); // magic and format version: the parser goes on
                return (garbage, $"{garbage.Length} random bytes after the magic");
        }
    }

    private static readonly int[] HugeValues = [int.MaxValue, int.MaxValue - 1, 0x7FFF_FFC7, 1 << 30, 1 << 28, -1, int.MinValue, 100_000_000];

    private enum FieldKind
    {
        AlarmCount,
        LeaseCount,
        KeyCount,
        KeyLength,
        VersionCount,
        ValueLength,
        SystemKeyCount,
        AuthLength,
    }

    private readonly record struct Field(FieldKind Kind, int Offset, int Width)
    {
        public override string ToString() => $"{Kind}@{Offset}";
    }

    /// <summary>Writes <paramref name="value"/> into a field: int32 fields as they are, 7-bit lengths re-encoded (the image is re-spliced).</summary>
    private static byte[] WriteField(byte[] image, Field field, int value)
    {
        if (field.Kind is FieldKind.KeyLength or FieldKind.ValueLength or FieldKind.AuthLength)
        {
            var encoded = new List<byte>();
            var v = (uint)value;
            while (v >= 0x80)
            {
                encoded.Add((byte)(v | 0x80));
                v >>= 7;
            }

            encoded.Add((byte)v);
            return [.. image.AsSpan(0, field.Offset), .. encoded, .. image.AsSpan(field.Offset + field.Width)];
        }

        var bytes = image.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field.Offset), value);
        return bytes;
    }

    /// <summary>
    /// Walks a valid image (snapshot format 4, as docs/storage.md describes it) and records where every count and
    /// length field is, so mutations can aim at them.
    /// </summary>
    private static List<Field> LengthAndCountFields(byte[] image)
    {
        var fields = new List<Field>();
        var at = 8 + 4 + 8 + 8 + 8; // magic, format, applied index, revision, compact revision
        int Count(FieldKind kind)
        {
            fields.Add(new Field(kind, at, 4));
            var n = BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(at));
            at += 4;
            return n;
        }

        void Bytes(FieldKind kind)
        {
            var start = at;
            int length = 0, shift = 0;
            byte b;
            do
            {
                b = image[at++];
                length |= (b & 0x7F) << shift;
                shift += 7;
            }
            while ((b & 0x80) != 0);

            fields.Add(new Field(kind, start, at - start));
            at += length;
        }

        for (var n = Count(FieldKind.AlarmCount); n > 0; n--)
        {
            at += 8 + 4;
        }

        for (var n = Count(FieldKind.LeaseCount); n > 0; n--)
        {
            at += 8 + 8 + 1; // id, TTL, keyspace
        }

        void Keys(FieldKind countKind)
        {
            for (var n = Count(countKind); n > 0; n--)
            {
                Bytes(FieldKind.KeyLength);
                for (var m = Count(FieldKind.VersionCount); m > 0; m--)
                {
                    at += 8 + 4;
                    if (image[at++] == 1)
                    {
                        at += 8 + 8 + 8;
                        Bytes(FieldKind.ValueLength);
                    }
                }
            }
        }

        Keys(FieldKind.KeyCount);
        at += 8 + 8; // the system keyspace's revision and compact revision
        Keys(FieldKind.SystemKeyCount);
        Bytes(FieldKind.AuthLength); // format 4: the auth store, a protobuf message

        Assert.Equal(image.Length, at + 4); // only the trailer is left
        return fields;
    }

    /// <summary>A stream that, like one arriving from a peer, cannot say how long it is.</summary>
    private sealed class UnknownLengthStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream inner = new(bytes, writable: false);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

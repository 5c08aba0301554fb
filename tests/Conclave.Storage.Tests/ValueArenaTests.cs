using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// A keyspace's keys and values packed into its arena (ADR 0017): through random puts of every size (large values keep
/// arrays of their own), puts that keep the value, deletions, compactions (which release values and keys, and reclaim
/// half-empty chunks) and restores, every read at every retained revision gives the value and lease written (a lease is
/// stored before its value), the arena's accounting matches the keys, values and leases still retained, and its chunks
/// stay bounded by what is live.
/// </summary>
public sealed class ValueArenaTests
{
    private const int HotKeys = 16;
    private const int ColdKeys = 400;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Reads_accounting_and_chunks_hold_through_restores_writes_compactions_and_reclaims(int seed)
    {
        var random = new Random(seed);
        var model = new Dictionary<string, List<Written>>();
        long compacted = 0;

        // A state written by puts, then restored: the restored keys and values are in chunks as the written ones were.
        var first = new StoreDriver();
        foreach (var lease in Leases.Where(l => l != 0))
        {
            first.Ok<LeaseGrantResponse>(new Command { LeaseGrant = new LeaseGrantRequest { ID = lease, TTL = 600 } });
        }

        var held = new List<(ByteString Bytes, byte[] Expected)>(); // values read earlier, still referred to
        RandomWrites(first, random, model, held, ref compacted, steps: 3_000);
        using var d = new StoreDriver(Restored(first.Store));
        first.Dispose();
        Check(d.Store, model, compacted, random);

        // Writes and compactions on the restored state release its values; reclaims move the live ones out of chunks
        // left mostly empty.
        var reclaimed = RandomWrites(d, random, model, held, ref compacted, steps: 6_000);
        Assert.True(reclaimed, "no compaction moved values out of a half-empty chunk: the reclaim path went untested");
        foreach (var (bytes, expected) in held)
        {
            Assert.Equal(expected, bytes.ToByteArray()); // bytes once read never change, even after their chunk was given up
        }

        // Restored again: the same reads, everything retained in chunks.
        using var again = Restored(d.Store);
        Check(again, model, compacted, random);
    }

    [Fact]
    public void Overwrites_with_compactions_keep_a_restored_arena_near_its_live_bytes()
    {
        // 4,000 keys of 1 KiB restored into chunks, then a random 30% of them overwritten in each of 10 rounds, compacted
        // to the newest revision after every round: without the reclaim the chunks would stay, each with a few of the
        // values not yet overwritten.
        const int keys = 4_000;
        var random = new Random(7);
        var value = new byte[1024];
        var first = new StoreDriver();
        for (var i = 0; i < keys; i++)
        {
            random.NextBytes(value);
            first.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B($"key{i:D5}"), Value = ByteString.CopyFrom(value) } });
        }

        using var d = new StoreDriver(Restored(first.Store));
        first.Dispose();
        Assert.Equal(keys * (1024L + "key00000".Length), d.Store.Read(k => k.Values.LiveBytes));
        for (var round = 0; round < 10; round++)
        {
            long revision = 0;
            foreach (var i in Enumerable.Range(0, keys).Where(_ => random.Next(10) < 3))
            {
                random.NextBytes(value);
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B($"key{i:D5}"), Value = ByteString.CopyFrom(value) } })
                    .Header.Revision;
            }

            d.Compact(revision);
        }

        var (live, chunked, moved) = d.Store.Read(k => (k.Values.LiveBytes, k.Values.ChunkedBytes, k.Values.MovedBytes));
        Assert.Equal(keys * (1024L + "key00000".Length), live);
        Assert.True(moved > 0, "nothing was reclaimed");
        // A reclaim leaves only chunks at least half live, so the chunks stay under twice the live bytes, plus the
        // chunk being filled.
        Assert.True(chunked <= (live * 2) + (2 * ValueArena.ChunkBytes), $"{chunked} bytes of chunks hold {live} live bytes");
    }

    [Fact]
    public void A_reclaim_moves_keys_too_so_chunks_left_holding_only_keys_are_given_up()
    {
        // 4,000 keys of 1 KiB restored into chunks, every value overwritten once and the old ones compacted away: the
        // restored chunks then hold only their keys, which must move for the chunks to go.
        const int keys = 4_000;
        var value = new byte[1024];
        var first = new StoreDriver();
        for (var i = 0; i < keys; i++)
        {
            first.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B($"key{i:D5}"), Value = ByteString.CopyFrom(value) } });
        }

        using var d = new StoreDriver(Restored(first.Store));
        first.Dispose();
        long revision = 0;
        for (var i = 0; i < keys; i++)
        {
            revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B($"key{i:D5}"), Value = ByteString.CopyFrom(value) } })
                .Header.Revision;
        }

        d.Compact(revision);
        var (live, chunked) = d.Store.Read(k => (k.Values.LiveBytes, k.Values.ChunkedBytes));
        Assert.Equal(keys * (1024L + "key00000".Length), live);
        Assert.True(chunked <= live + (2 * ValueArena.ChunkBytes), $"{chunked} bytes of chunks hold {live} live bytes");
        Assert.Equal($"key{keys - 1:D5}", d.Get($"key{keys - 1:D5}").Kvs.Single().Key.ToStringUtf8());
    }

    [Fact]
    public void Keys_values_and_leases_read_back_from_every_place_in_full_chunks_and_a_version_stays_40_bytes()
    {
        // Offset and length share one int in a version and a history (20 and 12 bits): past four full 1 MiB chunks, values
        // of 1 byte, of the longest a chunk takes and of one more (an array of its own) read back as stored, as a value
        // and as a key.
        var arena = new ValueArena();
        var random = new Random(3);
        var stored = new List<(StoredValue Stored, byte[] Expected, long Lease)>();
        while (arena.ChunkedBytes < 4L * ValueArena.ChunkBytes)
        {
            // With a lease, 8 bytes less fit: the value and its lease are one piece of storage.
            var lease = random.Next(3) == 0 ? random.NextInt64(long.MinValue, long.MaxValue) | 1 : 0;
            var room = ValueArena.OwnArrayAbove - (lease != 0 ? KeyVersion.LeaseBytes : 0);
            var value = new byte[random.Next(5) switch
            {
                0 => 1,
                1 => room,
                2 => room + 1,
                3 when lease != 0 => 0,
                _ => random.Next(1, room),
            }];
            random.NextBytes(value);
            stored.Add((arena.Store(value, lease), value, lease));
        }

        // Offsets in the last 8 KiB of a full chunk: the offset's top bit is the int's sign bit.
        Assert.Contains(stored, s => s.Stored.Storage is ValueChunk && s.Stored.Offset >= ValueArena.ChunkBytes - (2 * ValueArena.OwnArrayAbove));
        foreach (var (value, expected, lease) in stored)
        {
            Assert.Equal(expected.Length + (lease != 0 ? KeyVersion.LeaseBytes : 0) > ValueArena.OwnArrayAbove, value.Storage is byte[]);
            var version = new KeyVersion(1, 7, 1, 1, lease, value);
            Assert.Equal(expected, version.ValueSpan.ToArray());
            Assert.Equal(expected.Length, version.ValueLength);
            Assert.Equal(expected, version.ValueBytes.ToByteArray());
            Assert.Equal(lease, version.Lease);
            Assert.Equal(7, version.Sub);
            Assert.Equal(version, new KeyVersion(1, 7, 1, 1, lease, expected)); // the same in an array of its own
            if (lease != 0)
            {
                continue; // a key has no lease
            }

            var history = new HistoryRows().New(value);
            Assert.Equal(expected, history.KeySpan.ToArray());
            Assert.Equal(expected.Length, history.KeyLength);
            Assert.Equal(expected, history.Key.ToByteArray());
        }

        // A lease that is not the one stored is refused rather than read back wrong.
        var leased = arena.Store([1, 2, 3], 0x55);
        Assert.Throws<ArgumentException>(() => new KeyVersion(1, 0, 1, 1, 0x56, leased));
        Assert.Throws<ArgumentException>(() => new KeyVersion(1, 0, 1, 1, 0x55, arena.Store([1, 2, 3])));

        // Every retained version is one of these in an array or inline in its history: 8 bytes more is 8 MB a million
        // keys. A history is a 64-byte row of its keyspace's rows (one version inline), no object: once its segment is
        // there, a new key's history allocates nothing.
        Assert.Equal(40, System.Runtime.CompilerServices.Unsafe.SizeOf<KeyVersion>());
        Assert.Equal(64, System.Runtime.CompilerServices.Unsafe.SizeOf<HistoryRow>());
        var rows = new HistoryRows();
        rows.New(arena.Store("j"u8));
        var key = arena.Store("k"u8);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var one = rows.New(key);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("k"u8.ToArray(), one.KeySpan.ToArray());
    }

    /// <summary>Leases the random puts attach (0: none); the largest has its top bit set, as etcd's random IDs may.</summary>
    private static readonly long[] Leases = [0, 0, 0, 0x1234, 0x7fff_ffff_ffff_fff0, -0x10];

    private sealed record Written(long Revision, byte[]? Value, long Lease = 0)
    {
        /// <summary>Bytes kept for it: the value, after the lease when there is one.</summary>
        public int StoredLength => Value is null ? 0 : Value.Length + (Lease != 0 ? KeyVersion.LeaseBytes : 0);

        public bool InArena => StoredLength is > 0 and <= ValueArena.OwnArrayAbove;
    }

    private static KeyValueStore Restored(KeyValueStore store)
    {
        using var image = new MemoryStream();
        store.WriteSnapshot(image);
        image.Position = 0;
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(image);
        return restored;
    }

    /// <summary>Random puts, puts keeping the value, deletions and compactions; true when a compaction moved values.</summary>
    private static bool RandomWrites(
        StoreDriver d, Random random, Dictionary<string, List<Written>> model, List<(ByteString Bytes, byte[] Expected)> held, ref long compacted, int steps)
    {
        var reclaimed = false;
        for (var step = 0; step < steps; step++)
        {
            // Most writes go to a few hot keys: the cold keys' values stay behind in chunks the hot keys' old values leave
            // mostly empty, which is what a reclaim is for.
            var key = random.Next(10) < 8 ? $"h{random.Next(HotKeys):D3}" : $"c{random.Next(ColdKeys):D3}";
            var roll = random.Next(100);
            var live = model.TryGetValue(key, out var versions) && versions is [.., { Value: not null }];
            long revision;
            if (roll < 8 && live)
            {
                revision = d.Ok<DeleteRangeResponse>(new Command { DeleteRange = new DeleteRangeRequest { Key = StoreDriver.B(key) } }).Header.Revision;
                versions!.Add(new Written(revision, null));
            }
            else if (roll < 14 && live)
            {
                // etcd's ignore_value: the new version shares the previous one's bytes (in a chunk if they are) when the
                // lease stays, and keeps a copy after the new lease when it changes; ignore_lease keeps the lease.
                var lease = Leases[random.Next(Leases.Length)];
                var ignoreLease = random.Next(3) == 0;
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B(key), IgnoreValue = true, IgnoreLease = ignoreLease, Lease = ignoreLease ? 0 : lease } })
                    .Header.Revision;
                versions!.Add(versions[^1] with { Revision = revision, Lease = ignoreLease ? versions[^1].Lease : lease });
            }
            else
            {
                var value = RandomValue(random);
                var lease = Leases[random.Next(Leases.Length)];
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B(key), Value = ByteString.CopyFrom(value), Lease = lease } })
                    .Header.Revision;
                (versions ??= model[key] = []).Add(new Written(revision, value, lease));
            }

            if (random.Next(50) == 0 && d.Get(key).Kvs.SingleOrDefault() is { } kv)
            {
                held.Add((kv.Value, kv.Value.ToByteArray()));
            }

            if (step % 400 == 399)
            {
                // Compact to a random recent revision: older versions go and their chunks empty out.
                var at = Math.Max(compacted + 1, revision - random.Next(1, 200));
                var movedBefore = d.Store.Read(k => k.Values.MovedBytes);
                d.Compact(at);
                compacted = at;
                foreach (var history in model.Values)
                {
                    var keep = history.FindLastIndex(v => v.Revision <= at);
                    var drop = keep < 0 ? 0 : history[keep].Value is null && history[keep].Revision < at ? keep + 1 : keep;
                    history.RemoveRange(0, drop);
                }

                reclaimed |= d.Store.Read(k => k.Values.MovedBytes) > movedBefore;
                Check(d.Store, model, compacted, random);
            }
        }

        return reclaimed;
    }

    private static byte[] RandomValue(Random random)
    {
        var size = random.Next(100) switch
        {
            < 5 => 0,
            < 70 => random.Next(1, 300),
            < 97 => random.Next(300, ValueArena.OwnArrayAbove + 1),
            _ => random.Next(ValueArena.OwnArrayAbove + 1, ValueArena.OwnArrayAbove + 20_000), // an array of its own
        };
        var value = new byte[size];
        random.NextBytes(value);
        return value;
    }

    private static void Check(KeyValueStore store, Dictionary<string, List<Written>> model, long compacted, Random random)
    {
        var current = store.Revision;
        long expectedLive = 0;
        foreach (var (key, history) in model)
        {
            if (history.Count > 0)
            {
                expectedLive += key.Length; // a retained key's bytes are in the arena too
            }

            foreach (var written in history)
            {
                if (written.InArena)
                {
                    expectedLive += written.StoredLength;
                }
            }

            // The newest value and the value at a few retained revisions.
            foreach (var at in new[] { 0L, current }.Concat(Enumerable.Range(0, 3).Select(_ => compacted + random.NextInt64(current - compacted + 1))))
            {
                var effective = at == 0 ? current : at;
                var expected = history.LastOrDefault(v => v.Revision <= effective);
                var kv = store.Range(new RangeRequest { Key = StoreDriver.B(key), Revision = at }).Kvs.SingleOrDefault();
                if (expected?.Value is null)
                {
                    Assert.Null(kv);
                }
                else
                {
                    Assert.NotNull(kv);
                    Assert.Equal(expected.Value, kv.Value.ToByteArray());
                    Assert.Equal(expected.Lease, kv.Lease);
                }
            }
        }

        Assert.Equal(expectedLive, store.Read(k => k.Values.LiveBytes));
        var (chunked, garbage) = store.Read(k => (k.Values.ChunkedBytes, k.Values.GarbageBytes));
        Assert.True(garbage >= 0 && garbage <= chunked, $"garbage {garbage} of {chunked} chunked bytes");
    }
}

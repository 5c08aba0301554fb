using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage.Mvcc;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// Values packed into a keyspace's arena (ADR 0017): through random puts of every size, puts that keep the value,
/// deletions, compactions (which release values and reclaim half-empty chunks) and snapshot restores, every read at
/// every retained revision gives the value written, the arena's accounting matches what is retained, and its chunks
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
    public void Reads_accounting_and_chunks_hold_through_writes_compactions_reclaims_and_restores(int seed)
    {
        var random = new Random(seed);
        using var d = new StoreDriver();
        var model = new Dictionary<string, List<(long Revision, byte[]? Value)>>();
        var held = new List<(ByteString Bytes, byte[] Expected)>(); // values read earlier, still referred to
        long compacted = 0;
        var reclaimedOnce = false;
        for (var step = 0; step < 6_000; step++)
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
                versions!.Add((revision, null));
            }
            else if (roll < 14 && live)
            {
                // etcd's ignore_value: the new version shares the previous one's bytes.
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B(key), IgnoreValue = true } }).Header.Revision;
                versions!.Add((revision, versions[^1].Value));
            }
            else
            {
                var value = RandomValue(random);
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B(key), Value = ByteString.CopyFrom(value) } }).Header.Revision;
                (versions ??= model[key] = []).Add((revision, value));
            }

            if (random.Next(50) == 0)
            {
                var kv = d.Get(key).Kvs.SingleOrDefault();
                if (kv is not null)
                {
                    held.Add((kv.Value, kv.Value.ToByteArray()));
                }
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

                reclaimedOnce |= d.Store.Read(k => k.Values.MovedBytes) > movedBefore;
                Check(d.Store, model, compacted, random);
            }
        }

        Assert.True(reclaimedOnce, "no compaction moved values out of a half-empty chunk: the reclaim path went untested");
        foreach (var (bytes, expected) in held)
        {
            Assert.Equal(expected, bytes.ToByteArray()); // bytes once read never change, even after their chunk was given up
        }

        // A restored store reads the same and accounts the same.
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        image.Position = 0;
        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(image);
        Check(restored, model, compacted, random);
    }

    [Fact]
    public void Overwrites_with_compactions_keep_the_chunks_near_the_live_bytes()
    {
        // 2,000 keys of 1 KiB, a random 60% of them overwritten in each of 20 rounds, compacted to the newest revision after
        // every round: without the reclaim the chunks would fill with the values that were not overwritten, a few each.
        using var d = new StoreDriver();
        var random = new Random(7);
        var value = new byte[1024];
        long revision = 0;
        for (var round = 0; round < 20; round++)
        {
            foreach (var i in Enumerable.Range(0, 2_000).Where(i => round == 0 || random.Next(10) < 6))
            {
                random.NextBytes(value);
                revision = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = StoreDriver.B($"key{i:D5}"), Value = ByteString.CopyFrom(value) } })
                    .Header.Revision;
            }

            d.Compact(revision);
        }

        var (live, chunked, moved) = d.Store.Read(k => (k.Values.LiveBytes, k.Values.ChunkedBytes, k.Values.MovedBytes));
        Assert.Equal(2_000 * 1024L, live);
        Assert.True(moved > 0, "nothing was reclaimed");
        // A reclaim leaves only chunks at least half live, so the chunks stay under twice the live bytes, plus the
        // threshold's two chunks of slack.
        Assert.True(chunked <= (live * 2) + (2 * ValueArena.ChunkBytes), $"{chunked} bytes of chunks hold {live} live bytes");
    }

    private static byte[] RandomValue(Random random)
    {
        var size = random.Next(100) switch
        {
            < 5 => 0,
            < 70 => random.Next(1, 300),
            < 97 => random.Next(300, 20_000),
            _ => random.Next(ValueArena.OwnArrayAbove + 1, ValueArena.OwnArrayAbove + 20_000), // an array of its own
        };
        var value = new byte[size];
        random.NextBytes(value);
        return value;
    }

    private static void Check(KeyValueStore store, Dictionary<string, List<(long Revision, byte[]? Value)>> model, long compacted, Random random)
    {
        var current = store.Revision;
        long expectedLive = 0;
        foreach (var (key, history) in model)
        {
            foreach (var (_, value) in history)
            {
                if (value is { Length: > 0 and <= ValueArena.OwnArrayAbove })
                {
                    expectedLive += value.Length;
                }
            }

            // The newest value and the value at a few retained revisions.
            foreach (var at in new[] { 0L, current }.Concat(Enumerable.Range(0, 3).Select(_ => compacted + random.NextInt64(current - compacted + 1))))
            {
                var effective = at == 0 ? current : at;
                var expected = history.LastOrDefault(v => v.Revision <= effective);
                var kv = store.Range(new RangeRequest { Key = StoreDriver.B(key), Revision = at }).Kvs.SingleOrDefault();
                if (expected.Value is null)
                {
                    Assert.Null(kv);
                }
                else
                {
                    Assert.NotNull(kv);
                    Assert.Equal(expected.Value, kv.Value.ToByteArray());
                }
            }
        }

        Assert.Equal(expectedLive, store.Read(k => k.Values.LiveBytes));
        var (chunked, garbage) = store.Read(k => (k.Values.ChunkedBytes, k.Values.GarbageBytes));
        Assert.True(garbage >= 0 && garbage <= chunked, $"garbage {garbage} of {chunked} chunked bytes");
    }
}

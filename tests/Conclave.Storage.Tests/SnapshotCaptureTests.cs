using Conclave.Api.Etcd;
using Conclave.Api.Raft;

namespace Conclave.Storage.Tests;

/// <summary>
/// A snapshot captured at one moment and written while writes go on (ADR 0017) holds exactly the state of that moment,
/// byte for byte what a snapshot written at once would hold, and announces its length before it is written; a
/// compaction waits until the capture is written or dropped.
/// </summary>
public sealed class SnapshotCaptureTests
{
    [Fact]
    public void A_capture_written_after_more_writes_holds_the_state_of_its_moment()
    {
        using var driver = new StoreDriver(new StoreLimits { QuotaBytes = 1L << 34 });
        var random = new Random(7);
        for (var i = 0; i < 3000; i++)
        {
            Mutate(driver, random, i);
        }

        var atOnce = new MemoryStream();
        driver.Store.WriteSnapshot(atOnce);
        using var capture = driver.Store.CaptureSnapshot();

        // Writes after the capture: overwrites (histories grow, arrays are replaced), new keys, deletions.
        for (var i = 3000; i < 9000; i++)
        {
            Mutate(driver, random, i);
        }

        var later = new MemoryStream();
        capture.WriteTo(later);
        Assert.Equal(capture.Length, later.Length);
        Assert.Equal(atOnce.ToArray(), later.ToArray());

        // And it restores to that state.
        using var restored = new KeyValueStore(new StoreLimits { QuotaBytes = 1L << 34 });
        later.Position = 0;
        restored.RestoreSnapshot(later);
        var again = new MemoryStream();
        restored.WriteSnapshot(again);
        Assert.Equal(atOnce.ToArray(), again.ToArray());
    }

    [Fact]
    public void The_announced_length_follows_every_change_without_a_pass_over_the_keys()
    {
        // The keyspaces keep their snapshot sections' sizes as they change (puts of every length class, deletions,
        // transactions, compactions that drop versions and whole keys, a restore): each capture's length must be
        // the bytes it then writes, or the member refuses its snapshot.
        using var driver = new StoreDriver(new StoreLimits { QuotaBytes = 1L << 34 });
        var random = new Random(11);
        for (var round = 0; round < 12; round++)
        {
            for (var i = 0; i < 400; i++)
            {
                Mutate(driver, random, round * 1000 + i);
                if (random.Next(50) == 0)
                {
                    // Values across the 7-bit length boundaries (127/128, 16383/16384 bytes).
                    driver.Put($"big-{random.Next(20)}", new string('b', random.Next(2) == 0 ? 127 + random.Next(3) : 16382 + random.Next(4)));
                }
            }

            if (round % 3 == 2)
            {
                driver.Compact(driver.Store.Revision - random.Next(1, 200));
            }

            AssertLength(driver.Store);
        }

        var image = new MemoryStream();
        driver.Store.WriteSnapshot(image);
        var restored = new KeyValueStore(new StoreLimits { QuotaBytes = 1L << 34 });
        image.Position = 0;
        restored.RestoreSnapshot(image);
        AssertLength(restored);

        // The restored store keeps counting from there.
        using var restoredDriver = new StoreDriver(restored);
        for (var i = 0; i < 300; i++)
        {
            Mutate(restoredDriver, random, 20_000 + i);
        }

        restoredDriver.Compact(restored.Revision - 5);
        AssertLength(restored);

        static void AssertLength(KeyValueStore store)
        {
            using var capture = store.CaptureSnapshot();
            var written = new MemoryStream();
            capture.WriteTo(written);
            Assert.Equal(written.Length, capture.Length);
        }
    }

    [Fact]
    public void Captures_written_in_any_order_across_new_keys_compactions_and_a_restore_hold_their_moments()
    {
        // A capture takes the histories in creation order; its writer puts them in key order, building on the order the
        // writer before it made (keys created since are sorted and merged in). Keys created between captures land
        // before, between and after the existing ones; captures are written newest first and oldest first; a
        // compaction empties keys between captures; a restored store goes on from its snapshot's order.
        using var driver = new StoreDriver(new StoreLimits { QuotaBytes = 1L << 34 });
        var random = new Random(5);
        var keySpace = 200;
        void Round(StoreDriver d)
        {
            keySpace += 150;
            for (var i = 0; i < 400; i++)
            {
                var key = $"k{random.Next(keySpace):D5}";
                if (random.Next(8) == 0)
                {
                    d.Delete(key);
                }
                else
                {
                    d.Put(key, new string('v', random.Next(40)));
                }
            }
        }

        (KeyValueStore.SnapshotCapture Capture, byte[] AtOnce) Take(KeyValueStore store)
        {
            var atOnce = new MemoryStream();
            var capture = store.CaptureSnapshot();
            store.WriteSnapshot(atOnce);
            return (capture, atOnce.ToArray());
        }

        void Check(KeyValueStore.SnapshotCapture capture, byte[] atOnce)
        {
            var image = new MemoryStream();
            capture.WriteTo(image);
            Assert.Equal(atOnce, image.ToArray());
            using var restored = new KeyValueStore(new StoreLimits { QuotaBytes = 1L << 34 });
            image.Position = 0;
            restored.RestoreSnapshot(image); // checks the key order
            var again = new MemoryStream();
            restored.WriteSnapshot(again);
            Assert.Equal(atOnce, again.ToArray());
        }

        // Newest written first: the writers of older captures find an order that covers more than theirs.
        var pending = new List<(KeyValueStore.SnapshotCapture, byte[])>();
        for (var n = 0; n < 4; n++)
        {
            Round(driver);
            pending.Add(Take(driver.Store));
        }

        Round(driver);
        foreach (var (capture, atOnce) in Enumerable.Reverse(pending))
        {
            Check(capture, atOnce);
        }

        // A compaction that empties keys (deleted, then compacted past), then captures written oldest first.
        for (var k = 0; k < keySpace; k += 3)
        {
            driver.Delete($"k{k:D5}");
        }

        driver.Compact(driver.Store.Revision);
        pending.Clear();
        for (var n = 0; n < 4; n++)
        {
            Round(driver);
            pending.Add(Take(driver.Store));
        }

        foreach (var (capture, atOnce) in pending)
        {
            Check(capture, atOnce);
        }

        // A restored store: its snapshot's order is where the next writer starts.
        var image = new MemoryStream();
        driver.Store.WriteSnapshot(image);
        var restoredStore = new KeyValueStore(new StoreLimits { QuotaBytes = 1L << 34 });
        image.Position = 0;
        restoredStore.RestoreSnapshot(image);
        using var restored = new StoreDriver(restoredStore);
        for (var n = 0; n < 3; n++)
        {
            Round(restored);
            var (capture, atOnce) = Take(restoredStore);
            Round(restored);
            Check(capture, atOnce);
        }
    }

    [Fact]
    public async Task A_compaction_waits_for_a_capture_being_written()
    {
        using var driver = new StoreDriver();
        for (var i = 0; i < 100; i++)
        {
            driver.Put($"k{i % 10}", $"v{i}");
        }

        var capture = driver.Store.CaptureSnapshot();
        var compacted = Task.Run(() => driver.Compact(50));
        Assert.False(await Finishes(compacted, 300), "the compaction ran while a capture was not yet written");
        var image = new MemoryStream();
        capture.WriteTo(image);
        Assert.True(await Finishes(compacted, 10_000), "the compaction still waits after the capture was written");
        Assert.Equal(50, driver.Store.CompactRevision);

        // A capture dropped without being written lets compactions run too.
        var dropped = driver.Store.CaptureSnapshot();
        var next = Task.Run(() => driver.Compact(60));
        Assert.False(await Finishes(next, 300));
        dropped.Dispose();
        Assert.True(await Finishes(next, 10_000));
        Assert.Throws<ObjectDisposedException>(() => dropped.WriteTo(new MemoryStream()));
    }

    private static async Task<bool> Finishes(Task task, int ms) =>
        await Task.WhenAny(task, Task.Delay(TimeSpan.FromMilliseconds(ms), TimeProvider.System)) == task;

    private static void Mutate(StoreDriver driver, Random random, int i)
    {
        var key = $"key-{random.Next(500):D4}";
        switch (random.Next(10))
        {
            case 0:
                driver.Delete(key);
                break;
            case 1:
                driver.Txn(new TxnRequest
                {
                    Success =
                    {
                        new RequestOp { RequestPut = new PutRequest { Key = StoreDriver.B(key), Value = StoreDriver.B($"t{i}") } },
                        new RequestOp { RequestPut = new PutRequest { Key = StoreDriver.B(key + "-2"), Value = StoreDriver.B(new string('x', random.Next(300))) } },
                    },
                });
                break;
            default:
                driver.Put(key, new string((char)('a' + (i % 26)), random.Next(200)));
                break;
        }
    }
}

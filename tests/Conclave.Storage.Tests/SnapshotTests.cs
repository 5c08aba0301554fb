using Conclave.Api.Mvcc;
using Conclave.Storage.Watch;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

public sealed class SnapshotTests
{
    [Fact]
    public void Snapshot_round_trip_keeps_history_compaction_and_watch_replay()
    {
        using var d = new StoreDriver();
        for (var i = 0; i < 20; i++)
        {
            d.Put($"k{i % 5}", $"v{i}");
        }

        d.Delete("k1");
        d.Compact(10);
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        image.Position = 0;

        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(image);
        Assert.Equal(d.Store.Revision, restored.Revision);
        Assert.Equal(10, restored.CompactRevision);
        Assert.Equal(d.Store.SizeBytes, restored.SizeBytes);
        foreach (var rev in new long[] { 10, 15, 22 })
        {
            var expected = d.Get("k", "l", rev).Kvs;
            var actual = restored.Range(new Api.Etcd.RangeRequest { Key = B("k"), RangeEnd = B("l"), Revision = rev }).Kvs;
            Assert.Equal(expected, actual);
        }

        var original = new List<Event>();
        var replayed = new List<Event>();
        new Watcher(0, B("k"), B("l"), 10, true, false, false, false).Read(d.Store.Events, d.Store.Revision, 1000, original, []);
        new Watcher(0, B("k"), B("l"), 10, true, false, false, false).Read(restored.Events, restored.Revision, 1000, replayed, []);
        Assert.Equal(original, replayed);
    }

    [Fact]
    public void A_member_that_installed_a_snapshot_midway_writes_the_same_snapshot_as_one_that_applied_the_whole_log()
    {
        // Lease table order depends on its history of grants and revokes; the image must not.
        static Api.Raft.Command Grant(long id) => new() { LeaseGrant = new Api.Etcd.LeaseGrantRequest { ID = id, TTL = 60 } };
        using var whole = new KeyValueStore();
        var index = 0L;
        foreach (var command in new[] { Grant(1), Grant(2), Grant(3), new Api.Raft.Command { LeaseRevoke = new Api.Etcd.LeaseRevokeRequest { ID = 2 } } })
        {
            whole.Apply(++index, KeyValueStore.Encode([command]));
        }

        using var midway = new MemoryStream();
        whole.WriteSnapshot(midway);
        midway.Position = 0;
        using var installed = new KeyValueStore();
        installed.RestoreSnapshot(midway);
        foreach (var store in new[] { whole, installed })
        {
            store.Apply(index + 1, KeyValueStore.Encode([Grant(4)]));
        }

        using var a = new MemoryStream();
        using var b = new MemoryStream();
        whole.WriteSnapshot(a);
        installed.WriteSnapshot(b);
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void An_image_claiming_revisions_its_keys_do_not_hold_is_refused_before_anything_is_restored()
    {
        // A real image with its header's revision raised to 2^50: the key section still holds versions up to revision 4,
        // so nearly every revision since the compaction would be missing (and the event log would need a place for each).
        using var d = new StoreDriver();
        d.Put("a", "1");
        d.Put("b", "2");
        d.Put("a", "3");
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        var bytes = image.ToArray();
        var header = new byte[16];
        BitConverter.TryWriteBytes(header.AsSpan(0, 8), d.Store.Revision);
        BitConverter.TryWriteBytes(header.AsSpan(8, 8), 0L); // compact revision
        var at = bytes.AsSpan().IndexOf(header);
        Assert.True(at > 0, "the header's revision was not found");
        BitConverter.TryWriteBytes(bytes.AsSpan(at, 8), 1L << 50);

        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(RestoredImage(d));
        var refused = Assert.Throws<InvalidDataException>(() => restored.RestoreSnapshot(new MemoryStream(bytes)));
        Assert.Contains("keeps every revision since its compaction", refused.Message);
        Assert.Equal(d.Store.Revision, restored.Revision); // the state restored before stays as it was
        Assert.Equal("3", restored.Range(new() { Key = StoreDriver.B("a") }).Kvs.Single().Value.ToStringUtf8());
    }

    private static MemoryStream RestoredImage(StoreDriver d)
    {
        var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        image.Position = 0;
        return image;
    }

    [Fact]
    public void Corrupt_snapshot_is_rejected()
    {
        using var d = new StoreDriver();
        d.Put("k", "v");
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        var bytes = image.ToArray();
        using var restored = new KeyValueStore();
        Assert.Throws<InvalidDataException>(() => restored.RestoreSnapshot(new MemoryStream(bytes[..^6])));
        bytes[0] ^= 0xff;
        Assert.Throws<InvalidDataException>(() => restored.RestoreSnapshot(new MemoryStream(bytes)));
    }
}

using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

/// <summary>
/// <see cref="SnapshotImage"/>: what a backup file's image holds, and the rewrite that seeds a new cluster from it
/// (membership records and alarms left out, everything else byte for byte as a restore of the original would load it).
/// </summary>
public sealed class SnapshotImageTests
{
    [Fact]
    public void Inspect_reports_what_the_image_holds()
    {
        using var d = Populated();
        var image = Image(d.Store);

        var summary = SnapshotImage.Inspect(new MemoryStream(image));

        Assert.Equal(4, summary.FormatVersion);
        Assert.Equal(d.Store.AppliedIndex, summary.AppliedIndex);
        Assert.Equal(d.Store.Revision, summary.Revision);
        Assert.Equal(3, summary.CompactRevision);
        Assert.Equal(4, summary.Keys); // a, b, c, leased; gone is deleted
        Assert.Equal(d.Store.SystemKeyspace.Revision, summary.SystemRevision);
        Assert.Equal(3, summary.SystemKeys); // config/v1/app, cluster/learners/1, cluster/joining/2
        Assert.Equal(1, summary.Leases);
        Assert.Equal(1, summary.Alarms);
        Assert.Equal(image.Length, summary.Length);
        Assert.Equal(d.Store.AppliedIndex, SnapshotImage.ReadAppliedIndex(new MemoryStream(image)));
    }

    [Fact]
    public void A_rewrite_leaves_out_the_dropped_prefix_and_the_alarms_and_keeps_the_rest()
    {
        using var d = Populated();
        var image = Image(d.Store);
        using var rewritten = new MemoryStream();

        var summary = SnapshotImage.Rewrite(new MemoryStream(image), rewritten, new SnapshotRewrite { DropSystemKeyPrefix = "cluster/", DropAlarms = true, AppliedIndex = 500 });

        Assert.Equal(2, summary.SystemKeysDropped);
        Assert.Equal(1, summary.SystemKeys);
        Assert.Equal(0, summary.Alarms);
        Assert.Equal(rewritten.Length, summary.Length);
        rewritten.Position = 0;
        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(rewritten);
        Assert.Equal(500, restored.AppliedIndex);
        Assert.Empty(restored.Alarms);
        Assert.Equal(d.Store.Revision, restored.Revision);
        Assert.Equal(d.Store.SystemKeyspace.Revision, restored.SystemKeyspace.Revision);
        var all = new RangeRequest { Key = B("\0"), RangeEnd = B("\0") };
        Assert.Equal(d.Store.Range(all).Kvs, restored.Range(all).Kvs);
        // Reads at an old revision still see history; the compacted revision still refuses.
        Assert.Equal("1", Assert.Single(restored.Range(new RangeRequest { Key = B("a"), Revision = 4 }).Kvs).Value.ToStringUtf8());
        var system = restored.SystemKeyspace.Range(all);
        Assert.Equal("config/v1/app", Assert.Single(system.Kvs).Key.ToStringUtf8());
        Assert.Equal(d.Store.ListLeases().Select(l => (l.Id, l.Ttl, l.Keys.Count)), restored.ListLeases().Select(l => (l.Id, l.Ttl, l.Keys.Count)));

        // The same input and the same rewrite give the same bytes: every member restored from one file has one image.
        using var again = new MemoryStream();
        SnapshotImage.Rewrite(new MemoryStream(image), again, new SnapshotRewrite { DropSystemKeyPrefix = "cluster/", DropAlarms = true, AppliedIndex = 500 });
        Assert.Equal(rewritten.ToArray(), again.ToArray());
    }

    [Fact]
    public void A_rewrite_of_a_corrupt_image_writes_nothing()
    {
        using var d = Populated();
        var image = Image(d.Store);
        image[^1] ^= 0xFF; // the trailer
        using var rewritten = new MemoryStream();

        var error = Assert.Throws<InvalidDataException>(() => SnapshotImage.Rewrite(new MemoryStream(image), rewritten, new SnapshotRewrite()));

        Assert.Contains("trailer", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, rewritten.Length);
    }

    private static StoreDriver Populated()
    {
        var d = new StoreDriver();
        d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 9, TTL = 120 } });
        d.Put("a", "0");
        d.Put("a", "1");
        d.Put("gone", "x");
        d.Compact(3);
        d.Put("b", "2");
        d.Put("c", "3");
        d.Delete("gone");
        d.Put("leased", "l", lease: 9);
        d.Put("a", "2");
        foreach (var key in new[] { "config/v1/app", "cluster/learners/1", "cluster/joining/2" })
        {
            d.Apply(new Command { Put = new PutRequest { Key = B(key), Value = B("v") }, Keyspace = KeyspaceKind.System });
        }

        // Last: while NOSPACE is raised, writes that need space are refused.
        d.Apply(new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = 42, Alarm = Api.Etcd.AlarmType.Nospace } });
        return d;
    }

    private static byte[] Image(KeyValueStore store)
    {
        using var image = new MemoryStream();
        store.WriteSnapshot(image);
        return image.ToArray();
    }
}

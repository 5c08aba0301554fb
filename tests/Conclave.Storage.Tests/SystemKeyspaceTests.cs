using System.Buffers.Binary;
using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Mvcc;
using Conclave.Api.Raft;
using Conclave.Storage.Watch;
using Google.Protobuf;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

/// <summary>
/// The system keyspace (ADR 0012): the same engine, log and snapshots as the user keyspace, with its own revisions,
/// history and signal, so nothing written there shows in, or advances, what etcd's API serves.
/// </summary>
public sealed class SystemKeyspaceTests
{
    private static Command System(Command command)
    {
        command.Keyspace = KeyspaceKind.System;
        return command;
    }

    private static Command SystemPut(string key, string value, long lease = 0) =>
        System(new Command { Put = new PutRequest { Key = B(key), Value = B(value), Lease = lease } });

    private static RangeResponse SystemGet(KeyValueStore store, string key, string? end = null, long revision = 0) =>
        store.SystemKeyspace.Range(new RangeRequest { Key = B(key), RangeEnd = end is null ? ByteString.Empty : B(end), Revision = revision });

    private static readonly ByteString Everything = B("\0");

    [Fact]
    public void Writes_in_one_keyspace_neither_show_in_nor_advance_the_other()
    {
        using var d = new StoreDriver();
        d.Put("k", "user");
        var put = d.Ok<PutResponse>(SystemPut("k", "system"));
        d.Ok<PutResponse>(SystemPut("config/a", "1"));
        d.Put("j", "user");

        Assert.Equal(3, d.Store.Revision);
        Assert.Equal(3, d.Store.SystemKeyspace.Revision);
        Assert.Equal(2, put.Header.Revision);
        Assert.Equal(["j", "k"], d.Get("\0", "\0").Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.Equal("user", d.Get("k").Kvs.Single().Value.ToStringUtf8());
        var k = SystemGet(d.Store, "k").Kvs.Single();
        Assert.Equal(("system", 2L, 2L, 1L), (k.Value.ToStringUtf8(), k.CreateRevision, k.ModRevision, k.Version));
        Assert.Equal(2, SystemGet(d.Store, "\0", "\0").Count);

        // Each keyspace's history holds only its own events, at its own revisions.
        var userEvents = Read(d.Store.Events, 1, d.Store.Revision);
        var systemEvents = Read(d.Store.SystemKeyspace.Events, 1, d.Store.SystemKeyspace.Revision);
        Assert.Equal([("k", 2L, "user"), ("j", 3L, "user")], userEvents);
        Assert.Equal([("k", 2L, "system"), ("config/a", 3L, "1")], systemEvents);
        Assert.Equal(d.Store.Revision, d.Store.Signal.Revision);
        Assert.Equal(d.Store.SystemKeyspace.Revision, d.Store.SystemKeyspace.Signal.Revision);

        // A delete of every user key leaves the system keyspace alone.
        Assert.Equal(2, d.Delete("\0", "\0").Deleted);
        Assert.Equal(2, SystemGet(d.Store, "\0", "\0").Count);
        Assert.Equal(3, d.Store.SystemKeyspace.Revision);
    }

    [Fact]
    public void A_system_txn_compares_reads_and_writes_the_system_keyspace_only()
    {
        using var d = new StoreDriver();
        d.Put("n", "user");
        d.Ok<PutResponse>(SystemPut("n", "v1"));
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = B("n"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B("v1") } },
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("n"), Value = B("v2") } },
                new RequestOp { RequestRange = new RangeRequest { Key = B("n") } },
            },
        };

        var response = d.Ok<TxnResponse>(System(new Command { Txn = txn }));

        Assert.True(response.Succeeded);
        Assert.Equal(3, response.Header.Revision);
        Assert.Equal("v2", response.Responses[1].ResponseRange.Kvs.Single().Value.ToStringUtf8());
        Assert.Equal("user", d.Get("n").Kvs.Single().Value.ToStringUtf8());
        Assert.Equal(2, d.Store.Revision);

        // The same txn against the user keyspace fails its compare: the user's "n" is "user".
        Assert.False(d.Txn(txn).Succeeded);
    }

    [Fact]
    public void Each_keyspace_attaches_revokes_and_sees_only_its_own_leases()
    {
        using var d = new StoreDriver();
        d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } });
        d.Apply(System(new Command { LeaseGrant = new LeaseGrantRequest { ID = 8, TTL = 60 } }));
        d.Put("u", "1", lease: 7);
        d.Ok<PutResponse>(SystemPut("only-system", "1", lease: 8));
        Assert.Equal(KeyspaceKind.User, d.Store.FindLease(7)!.Keyspace);
        Assert.Equal(KeyspaceKind.System, d.Store.FindLease(8)!.Keyspace);
        Assert.Equal([7L], d.Store.LeaseTtls(KeyspaceKind.User).Keys);
        Assert.Equal([8L], d.Store.LeaseTtls(KeyspaceKind.System).Keys);

        // A user's key cannot borrow the center's lease, nor a system key a user's (it would be deleted by a user's
        // revoke): to the other keyspace the lease does not exist, in puts and in txns alike.
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(new Command { Put = new PutRequest { Key = B("borrow"), Value = B("x"), Lease = 8 } }).Code);
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(new Command
        {
            Txn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = B("borrow"), Value = B("x"), Lease = 8 } } } },
        }).Code);
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(SystemPut("borrow", "x", lease: 7)).Code);

        // Nor can it revoke it; the system keyspace revokes its own, which leaves the user revision where it is.
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 8 } }).Code);
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(System(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } })).Code);
        Assert.NotNull(SystemGet(d.Store, "only-system").Kvs.SingleOrDefault());
        d.Ok<LeaseRevokeResponse>(System(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 8 } }));
        Assert.Empty(SystemGet(d.Store, "\0", "\0").Kvs);
        Assert.Equal(2, d.Store.Revision);

        var revoked = d.Ok<LeaseRevokeResponse>(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } });
        Assert.Equal(3, revoked.Header.Revision);
        Assert.Empty(d.Get("u").Kvs);
    }

    [Fact]
    public void A_format_2_snapshot_s_lease_that_holds_only_system_keys_loads_as_the_system_keyspace_s()
    {
        using var d = new StoreDriver();
        d.Apply(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } });
        d.Apply(System(new Command { LeaseGrant = new LeaseGrantRequest { ID = 8, TTL = 30 } }));
        d.Put("u", "1", lease: 7);
        d.Ok<PutResponse>(SystemPut("record", "1", lease: 8));
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);

        // Format 2 is format 3 without each lease's keyspace byte: magic, version, applied index, revision, compact
        // revision, no alarms (count 0), the lease count at byte 40, then the records (id, TTL, keyspace). Format 3 is
        // format 4 without the auth section before the trailer (an empty store's: one length byte, 0).
        var v4 = image.ToArray();
        Assert.Equal(4, BinaryPrimitives.ReadInt32LittleEndian(v4.AsSpan(8)));
        Assert.Equal(0, v4[^5]);
        byte[] v3 = [.. v4.AsSpan(0, v4.Length - 5), .. v4.AsSpan(v4.Length - 4)];
        Assert.Equal(2, BinaryPrimitives.ReadInt32LittleEndian(v3.AsSpan(40)));
        byte[] v2 = [.. v3.AsSpan(0, 44), .. v3.AsSpan(44, 16), .. v3.AsSpan(44 + 17, 16), .. v3.AsSpan(44 + 34)];
        BinaryPrimitives.WriteInt32LittleEndian(v2.AsSpan(8), 2);

        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(new MemoryStream(v2));

        Assert.Equal(KeyspaceKind.User, restored.FindLease(7)!.Keyspace);
        Assert.Equal(KeyspaceKind.System, restored.FindLease(8)!.Keyspace);
        Assert.Equal(30, restored.FindLease(8)!.Ttl);

        // And format 4 keeps it as written.
        image.Position = 0;
        using var again = new KeyValueStore();
        again.RestoreSnapshot(image);
        Assert.Equal(KeyspaceKind.System, again.FindLease(8)!.Keyspace);
        Assert.Equal(KeyspaceKind.User, again.FindLease(7)!.Keyspace);
    }

    [Fact]
    public void User_compaction_leaves_system_history_and_the_state_machine_compacts_it_by_revision()
    {
        using var d = new StoreDriver();
        d.Put("u", "1");
        d.Put("u", "2");
        for (var i = 0; i < 5; i++)
        {
            d.Ok<PutResponse>(SystemPut("s", $"{i}"));
        }

        d.Compact(3);
        Assert.Equal(0, d.Store.SystemKeyspace.CompactRevision);
        Assert.Equal("0", SystemGet(d.Store, "s", revision: 2).Kvs.Single().Value.ToStringUtf8());

        // Past twice the retained window it compacts down to the window, and keeps at least the window from then on.
        const long window = SystemKeyspace.RetainedRevisions;
        var entry = KeyValueStore.Encode(Enumerable.Range(0, 1000).Select(i => SystemPut($"s{i % 10}", "v")));
        var index = 100L;
        while (d.Store.SystemKeyspace.Revision < (2 * window) + 10)
        {
            d.Store.Apply(++index, entry);
            var (revision, compact) = (d.Store.SystemKeyspace.Revision, d.Store.SystemKeyspace.CompactRevision);
            Assert.True(compact == 0 || (revision - compact >= window && revision - compact <= 2 * window), $"system revision {revision}, compact revision {compact}");
        }

        Assert.True(d.Store.SystemKeyspace.CompactRevision > 0);
        Assert.Equal(ErrorCode.Compacted, Assert.Throws<ConclaveErrorException>(() => SystemGet(d.Store, "s", revision: 2)).Code);
        Assert.Equal(3, d.Store.Revision);
        Assert.Equal(3, d.Store.CompactRevision);
    }

    [Fact]
    public void The_quota_counts_both_keyspaces()
    {
        using var d = new StoreDriver(new StoreLimits { QuotaBytes = 4096 });
        d.Ok<PutResponse>(SystemPut("s", new string('x', 3000)));
        var before = d.Store.SizeBytes;

        // The quota is checked before the log (HasSpaceFor): the system keyspace's 3,000 bytes leave no room for 2,000 more.
        Assert.False(d.Store.HasSpaceFor(new Command { Put = new PutRequest { Key = B("u"), Value = B(new string('y', 2000)) } }));
        Assert.True(d.Store.HasSpaceFor(new Command { Put = new PutRequest { Key = B("u"), Value = B(new string('y', 500)) } }));
        Assert.True(before >= 3000, $"size {before}");
    }

    [Fact]
    public void Only_puts_deletes_txns_and_leases_name_a_keyspace()
    {
        CommandShape.Validate(SystemPut("k", "v"));
        CommandShape.Validate(System(new Command { DeleteRange = new DeleteRangeRequest { Key = B("k") } }));
        CommandShape.Validate(System(new Command { Txn = new TxnRequest() }));
        CommandShape.Validate(System(new Command { LeaseGrant = new LeaseGrantRequest { ID = 1, TTL = 5 } }));
        CommandShape.Validate(System(new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 1 } }));

        foreach (var command in new[]
        {
            System(new Command { Compaction = new CompactionRequest { Revision = 1 } }),
            System(new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get } }),
            new Command { Put = new PutRequest { Key = B("k") }, Keyspace = (KeyspaceKind)7 },
        })
        {
            Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<ConclaveErrorException>(() => CommandShape.Validate(command)).Code);
        }

        // Had one reached the log anyway, every member rejects it alike.
        using var d = new StoreDriver();
        Assert.Equal(ErrorCode.InvalidArgument, d.Fails(new Command { Put = new PutRequest { Key = B("k") }, Keyspace = (KeyspaceKind)7 }).Code);
        Assert.Equal(1, d.Store.Revision);
    }

    [Fact]
    public void A_snapshot_round_trip_keeps_both_keyspaces_with_history_leases_and_watch_replay()
    {
        using var d = new StoreDriver();
        d.Apply(System(new Command { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } }));
        for (var i = 0; i < 12; i++)
        {
            d.Put($"u{i % 3}", $"user-{i}");
            d.Ok<PutResponse>(SystemPut($"config/{i % 4}", $"system-{i}", lease: i == 11 ? 7 : 0));
        }

        d.Ok<DeleteRangeResponse>(System(new Command { DeleteRange = new DeleteRangeRequest { Key = B("config/0") } }));
        d.Compact(5);
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);
        image.Position = 0;

        using var restored = new KeyValueStore();
        restored.RestoreSnapshot(image);

        Assert.Equal((d.Store.Revision, d.Store.CompactRevision), restored.Revisions);
        Assert.Equal(d.Store.SystemKeyspace.Revision, restored.SystemKeyspace.Revision);
        Assert.Equal(d.Store.SizeBytes, restored.SizeBytes);
        for (var rev = 1L; rev <= d.Store.SystemKeyspace.Revision; rev++)
        {
            Assert.Equal(SystemGet(d.Store, "\0", "\0", rev).Kvs, SystemGet(restored, "\0", "\0", rev).Kvs);
        }

        Assert.Equal(d.Get("\0", "\0").Kvs, restored.Range(new RangeRequest { Key = Everything, RangeEnd = Everything }).Kvs);
        Assert.Equal(Read(d.Store.SystemKeyspace.Events, 1, 100), Read(restored.SystemKeyspace.Events, 1, 100));
        Assert.Equal(Read(d.Store.Events, 5, 100), Read(restored.Events, 5, 100));
        Assert.Equal([B("config/3")], restored.FindLease(7)!.SystemKeys);
        Assert.Equal(KeyspaceKind.System, restored.FindLease(7)!.Keyspace);

        // The restored store goes on from both revisions.
        var index = restored.AppliedIndex;
        var results = restored.Apply(index + 1, KeyValueStore.Encode([SystemPut("after", "x"), new Command { Put = new PutRequest { Key = B("after"), Value = B("y") } }]));
        Assert.Equal(d.Store.SystemKeyspace.Revision + 1, ((PutResponse)results[0]!).Header.Revision);
        Assert.Equal(d.Store.Revision + 1, ((PutResponse)results[1]!).Header.Revision);
    }

    [Fact]
    public void A_format_1_snapshot_loads_with_an_empty_system_keyspace()
    {
        using var d = new StoreDriver();
        d.Put("k", "v");
        d.Put("k", "w");
        using var image = new MemoryStream();
        d.Store.WriteSnapshot(image);

        // Format 1 is format 2 without the system keyspace's section (revision, compact revision, key count) before the
        // trailer; formats 2 and 3 differ only in lease records (none here); 4 adds the auth section (one byte when empty).
        var v4 = image.ToArray();
        byte[] v1 = [.. v4.AsSpan(0, v4.Length - 4 - 1 - 20), .. v4.AsSpan(v4.Length - 4)];
        BinaryPrimitives.WriteInt32LittleEndian(v1.AsSpan(8), 1);
        using var restored = new KeyValueStore();
        restored.Apply(1, KeyValueStore.Encode([SystemPut("stale", "x")]));

        restored.RestoreSnapshot(new MemoryStream(v1));

        Assert.Equal(3, restored.Revision);
        Assert.Equal("w", restored.Range(new RangeRequest { Key = B("k") }).Kvs.Single().Value.ToStringUtf8());
        Assert.Equal(1, restored.SystemKeyspace.Revision);
        Assert.Equal(0, restored.SystemKeyspace.KeyCount);
    }

    private static List<(string Key, long Revision, string Value)> Read(EventLog log, long from, long to)
    {
        var events = new List<Event>();
        new Watcher(0, Everything, Everything, from, false, false, false, false).Read(log, to, 10_000, events, []);
        return [.. events.Select(e => (e.Kv.Key.ToStringUtf8(), e.Kv.ModRevision, e.Kv.Value.ToStringUtf8()))];
    }
}

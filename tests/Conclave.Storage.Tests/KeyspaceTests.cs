using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Storage.Mvcc;
using static Conclave.Storage.Tests.StoreDriver;

namespace Conclave.Storage.Tests;

public sealed class KeyspaceTests
{
    [Fact]
    public void Fresh_store_is_at_revision_one_and_every_write_bumps_it_once()
    {
        using var d = new StoreDriver();
        Assert.Equal(1, d.Store.Revision);
        Assert.Equal(2, d.Put("a", "1").Header.Revision);
        Assert.Equal(3, d.Put("b", "1").Header.Revision);
        Assert.Equal(4, d.Put("a", "2").Header.Revision);
        Assert.Equal(4, d.Store.Revision);
    }

    [Fact]
    public void Create_mod_revision_and_version_follow_etcd()
    {
        using var d = new StoreDriver();
        d.Put("k", "1");
        d.Put("k", "2");
        var kv = Assert.Single(d.Get("k").Kvs);
        Assert.Equal((2, 3, 2), (kv.CreateRevision, kv.ModRevision, kv.Version));

        d.Delete("k");
        d.Put("k", "3");
        kv = Assert.Single(d.Get("k").Kvs);
        Assert.Equal((5, 5, 1), (kv.CreateRevision, kv.ModRevision, kv.Version));
    }

    [Fact]
    public void Reads_at_past_revisions_see_the_past()
    {
        using var d = new StoreDriver();
        d.Put("k", "old");
        d.Put("k", "new");
        d.Delete("k");
        Assert.Equal("old", d.Get("k", revision: 2).Kvs[0].Value.ToStringUtf8());
        Assert.Equal("new", d.Get("k", revision: 3).Kvs[0].Value.ToStringUtf8());
        Assert.Empty(d.Get("k", revision: 4).Kvs);
        Assert.Empty(d.Get("k").Kvs);
    }

    [Fact]
    public void Future_revision_is_an_error()
    {
        using var d = new StoreDriver();
        d.Put("k", "v");
        var e = Assert.Throws<ConclaveErrorException>(() => d.Get("k", revision: 99));
        Assert.Equal(ErrorCode.FutureRevision, e.Code);
    }

    [Fact]
    public void Delete_of_nothing_does_not_bump_the_revision()
    {
        using var d = new StoreDriver();
        d.Put("k", "v");
        var r = d.Delete("missing");
        Assert.Equal(0, r.Deleted);
        Assert.Equal(2, r.Header.Revision);
        Assert.Equal(2, d.Store.Revision);
    }

    [Fact]
    public void Range_with_prefix_limit_count_and_more()
    {
        using var d = new StoreDriver();
        foreach (var k in new[] { "a/3", "a/1", "a/2", "b/1" })
        {
            d.Put(k, k);
        }

        var prefixEnd = KeyOrder.PrefixEnd(B("a/")).ToStringUtf8();
        var all = d.Get("a/", prefixEnd);
        Assert.Equal(["a/1", "a/2", "a/3"], all.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.Equal(3, all.Count);
        Assert.False(all.More);

        var limited = d.Store.Range(new RangeRequest { Key = B("a/"), RangeEnd = B(prefixEnd), Limit = 2 });
        Assert.Equal(2, limited.Kvs.Count);
        Assert.Equal(3, limited.Count);
        Assert.True(limited.More);

        var countOnly = d.Store.Range(new RangeRequest { Key = B("a/"), RangeEnd = B(prefixEnd), CountOnly = true });
        Assert.Empty(countOnly.Kvs);
        Assert.Equal(3, countOnly.Count);

        var everything = d.Store.Range(new RangeRequest { Key = B("\0"), RangeEnd = B("\0") });
        Assert.Equal(4, everything.Count);
    }

    [Fact]
    public void Range_sorts_and_filters_like_etcd()
    {
        using var d = new StoreDriver();
        d.Put("a", "3");
        d.Put("b", "1");
        d.Put("c", "2");
        d.Put("a", "4");
        var byModDesc = d.Store.Range(new RangeRequest { Key = B("a"), RangeEnd = B("z"), SortTarget = RangeRequest.Types.SortTarget.Mod, SortOrder = RangeRequest.Types.SortOrder.Descend });
        Assert.Equal(["a", "c", "b"], byModDesc.Kvs.Select(kv => kv.Key.ToStringUtf8()));

        var byValue = d.Store.Range(new RangeRequest { Key = B("a"), RangeEnd = B("z"), SortTarget = RangeRequest.Types.SortTarget.Value });
        Assert.Equal(["b", "c", "a"], byValue.Kvs.Select(kv => kv.Key.ToStringUtf8()));

        var keysOnly = d.Store.Range(new RangeRequest { Key = B("a"), RangeEnd = B("z"), KeysOnly = true });
        Assert.All(keysOnly.Kvs, kv => Assert.True(kv.Value.IsEmpty));

        var modFiltered = d.Store.Range(new RangeRequest { Key = B("a"), RangeEnd = B("z"), MinModRevision = 4 });
        Assert.Equal(["a", "c"], modFiltered.Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.Equal(3, modFiltered.Count); // count is taken before filters, as etcd does
    }

    [Fact]
    public void Put_with_prev_kv_ignore_value_and_unknown_lease()
    {
        using var d = new StoreDriver();
        d.Put("k", "v1");
        var r = d.Put("k", "v2", prevKv: true);
        Assert.Equal("v1", r.PrevKv.Value.ToStringUtf8());

        var kept = d.Ok<PutResponse>(new Command { Put = new PutRequest { Key = B("k"), IgnoreValue = true } });
        Assert.Equal("v2", d.Get("k").Kvs[0].Value.ToStringUtf8());
        Assert.Equal(4, kept.Header.Revision);

        Assert.Equal(ErrorCode.KeyNotFound, d.Fails(new Command { Put = new PutRequest { Key = B("absent"), IgnoreValue = true } }).Code);
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(new Command { Put = new PutRequest { Key = B("x"), Value = B("y"), Lease = 42 } }).Code);
        Assert.Equal(4, d.Store.Revision);
    }

    [Fact]
    public void Txn_compares_and_runs_one_branch_at_one_revision()
    {
        using var d = new StoreDriver();
        d.Put("k", "v");
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = B("k"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = B("v") });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("a"), Value = B("1") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("b"), Value = B("2") } });
        txn.Success.Add(new RequestOp { RequestRange = new RangeRequest { Key = B("a") } });
        txn.Failure.Add(new RequestOp { RequestPut = new PutRequest { Key = B("failed"), Value = B("1") } });
        var r = d.Txn(txn);
        Assert.True(r.Succeeded);
        Assert.Equal(3, r.Header.Revision);
        Assert.Equal(3, d.Get("a").Kvs[0].ModRevision);
        Assert.Equal(3, d.Get("b").Kvs[0].ModRevision);
        Assert.Equal("1", r.Responses[2].ResponseRange.Kvs[0].Value.ToStringUtf8()); // reads see the txn's own writes

        var r2 = d.Txn(txn);
        Assert.True(r2.Succeeded);
        var miss = new TxnRequest();
        miss.Compare.Add(new Compare { Key = B("k"), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Greater, Version = 5 });
        miss.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = B("k") } });
        var r3 = d.Txn(miss);
        Assert.False(r3.Succeeded);
        Assert.Equal(4, d.Store.Revision); // a txn that only reads does not bump the revision
    }

    [Fact]
    public void Txn_compare_on_absent_key_uses_zero_values()
    {
        using var d = new StoreDriver();
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = B("new"), Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("new"), Value = B("x") } });
        Assert.True(d.Txn(txn).Succeeded);
        Assert.False(d.Txn(txn).Succeeded);
    }

    [Fact]
    public void Txn_that_fails_validation_changes_nothing()
    {
        using var d = new StoreDriver();
        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("a"), Value = B("1") } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("b"), Value = B("1"), Lease = 7 } });
        Assert.Equal(ErrorCode.LeaseNotFound, d.Fails(new Command { Txn = txn }).Code);
        Assert.Empty(d.Get("a").Kvs);
        Assert.Equal(1, d.Store.Revision);
    }

    [Fact]
    public void Validator_rejects_too_many_ops_and_duplicate_keys()
    {
        var big = new TxnRequest();
        for (var i = 0; i < 129; i++)
        {
            big.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B($"k{i}") } });
        }

        Assert.Equal(ErrorCode.TooManyOps, Assert.Throws<ConclaveErrorException>(() => RequestValidator.ValidateTxn(big, 128)).Code);

        var dup = new TxnRequest();
        dup.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = B("k") } });
        dup.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("a"), RangeEnd = B("z") } });
        Assert.Equal(ErrorCode.DuplicateKey, Assert.Throws<ConclaveErrorException>(() => RequestValidator.ValidateTxn(dup, 128)).Code);
        Assert.Equal(ErrorCode.KeyNotProvided, Assert.Throws<ConclaveErrorException>(() => RequestValidator.ValidatePut(new PutRequest())).Code);
    }

    [Fact]
    public void Compaction_drops_history_and_rejects_older_reads()
    {
        using var d = new StoreDriver();
        d.Put("k", "1"); // 2
        d.Put("k", "2"); // 3
        d.Put("gone", "x"); // 4
        d.Delete("gone"); // 5
        d.Put("k", "3"); // 6
        d.Compact(5);
        Assert.Equal(ErrorCode.Compacted, Assert.Throws<ConclaveErrorException>(() => d.Get("k", revision: 4)).Code);
        Assert.Equal("2", d.Get("k", revision: 5).Kvs[0].Value.ToStringUtf8());
        Assert.Equal("3", d.Get("k").Kvs[0].Value.ToStringUtf8());
        Assert.Empty(d.Get("gone", revision: 5).Kvs);
        Assert.Equal(ErrorCode.Compacted, d.Fails(new Command { Compaction = new CompactionRequest { Revision = 5 } }).Code);
        Assert.Equal(ErrorCode.FutureRevision, d.Fails(new Command { Compaction = new CompactionRequest { Revision = 60 } }).Code);
    }

    [Fact]
    public void Quota_is_checked_before_the_log_and_an_active_nospace_alarm_refuses_writes_while_reads_deletes_and_compaction_work()
    {
        using var d = new StoreDriver(new StoreLimits { QuotaBytes = 4096 });
        Command Put(string key, int bytes) => new() { Put = new PutRequest { Key = B(key), Value = B(new string('x', bytes)) } };
        var i = 0;
        while (d.Store.HasSpaceFor(Put($"k{i}", 200)))
        {
            d.Ok<PutResponse>(Put($"k{i}", 200));
            i++;
        }

        Assert.InRange(i, 5, 40);
        Assert.False(d.Store.HasSpaceFor(new Command { Txn = new TxnRequest { Failure = { new RequestOp { RequestPut = Put("t", 200).Put } } } }));
        Assert.True(d.Store.HasSpaceFor(new Command { DeleteRange = new DeleteRangeRequest { Key = B("k0") } }));
        Assert.True(d.Store.HasSpaceFor(new Command { Compaction = new CompactionRequest { Revision = 1 } }));

        // The member that finds no space raises the alarm as a command; only the alarm refuses writes in apply.
        Assert.Empty(d.Store.Alarms);
        d.Ok<AlarmResponse>(new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = 7, Alarm = AlarmType.Nospace } });
        Assert.Equal([(7UL, AlarmType.Nospace)], d.Store.Alarms.Select(a => (a.MemberID, a.Alarm)));
        Assert.Equal(ErrorCode.NoSpace, d.Fails(Put("small", 1)).Code);
        Assert.Equal(ErrorCode.NoSpace, d.Fails(new Command { Txn = new TxnRequest { Success = { new RequestOp { RequestPut = Put("small", 1).Put } } } }).Code);
        Assert.Equal(i, d.Get("k", "l").Count);
        Assert.Equal(1, d.Delete("k0").Deleted);
        d.Compact(d.Store.Revision);
        d.Ok<AlarmResponse>(new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, Alarm = AlarmType.Nospace } });
        d.Put("small", "1");
    }

    [Fact]
    public void Members_started_with_different_quotas_apply_the_same_log_alike()
    {
        // --quota-backend-bytes is a member's own setting (it may differ during a rolling change): it decides what the
        // member lets into the log, never what a committed entry does.
        using var small = new StoreDriver(new StoreLimits { QuotaBytes = 4096 });
        using var large = new StoreDriver(new StoreLimits { QuotaBytes = 1 << 20 });
        for (var i = 0; i < 40; i++)
        {
            var put = new Command { Put = new PutRequest { Key = B($"k{i}"), Value = B(new string('x', 200)) } };
            Assert.IsType<PutResponse>(small.Apply(put));
            Assert.IsType<PutResponse>(large.Apply(put));
        }

        Assert.False(small.Store.HasSpaceFor(new Command { Put = new PutRequest { Key = B("more"), Value = B("1") } }));
        Assert.True(large.Store.HasSpaceFor(new Command { Put = new PutRequest { Key = B("more"), Value = B("1") } }));
        using var a = new MemoryStream();
        using var b = new MemoryStream();
        small.Store.WriteSnapshot(a);
        large.Store.WriteSnapshot(b);
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void Random_operations_match_a_simple_model()
    {
        // Property test: a plain dictionary per revision is the model of what every read must return.
        var random = new Random(1234);
        using var d = new StoreDriver();
        var model = new Dictionary<string, string>();
        var history = new List<Dictionary<string, string>> { new(), new() }; // revisions 0 and 1: empty
        for (var step = 0; step < 2000; step++)
        {
            var key = $"k{random.Next(30):D2}";
            switch (random.Next(4))
            {
                case 0 or 1:
                    var value = $"v{step}";
                    d.Put(key, value);
                    model[key] = value;
                    history.Add(new Dictionary<string, string>(model));
                    break;
                case 2:
                    if (d.Delete(key).Deleted == 1)
                    {
                        Assert.True(model.Remove(key));
                        history.Add(new Dictionary<string, string>(model));
                    }
                    else
                    {
                        Assert.False(model.ContainsKey(key));
                    }

                    break;
                default:
                    var rev = random.Next(1, (int)d.Store.Revision + 1);
                    var seen = d.Get("k", "l", rev).Kvs.ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.Value.ToStringUtf8());
                    Assert.Equal(history[rev].OrderBy(p => p.Key), seen.OrderBy(p => p.Key));
                    break;
            }

            Assert.Equal(history.Count - 1, d.Store.Revision);
        }
    }
}

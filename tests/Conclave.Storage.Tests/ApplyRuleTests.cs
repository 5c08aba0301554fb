using Conclave.Api.Errors;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Google.Protobuf;

namespace Conclave.Storage.Tests;

/// <summary>
/// ADR 0008: what may enter the log (<see cref="CommandShape"/>) and what a member does with an entry that fails anyway.
/// </summary>
public sealed class ApplyRuleTests
{
    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    private static Command Put(string key) => new() { Put = new PutRequest { Key = B(key), Value = B("v") } };

    private static TxnRequest Nested(int depth)
    {
        var txn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = B("deep"), Value = B("v") } } } };
        for (var i = 1; i < depth; i++)
        {
            txn = new TxnRequest { Success = { new RequestOp { RequestTxn = txn } } };
        }

        return txn;
    }

    public static TheoryData<string> Applicable() =>
    [
        "put", "delete", "txn", "txn at the depth bound", "compaction", "alarm", "lease grant", "lease revoke",
    ];

    [Theory]
    [MemberData(nameof(Applicable))]
    public void Commands_the_store_applies_pass_the_shape_check(string kind)
    {
        var command = kind switch
        {
            "put" => Put("k"),
            "delete" => new Command { DeleteRange = new DeleteRangeRequest { Key = B("k"), RangeEnd = B("l") } },
            "txn" => new Command
            {
                Txn = new TxnRequest
                {
                    Compare = { new Compare { Key = B("k"), Target = Compare.Types.CompareTarget.Version, Version = 0 } },
                    Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("k") } } },
                    Failure = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("k") } } },
                },
            },
            "txn at the depth bound" => new Command { Txn = Nested(CommandShape.MaxTxnDepth) },
            "compaction" => new Command { Compaction = new CompactionRequest { Revision = 1 } },
            "alarm" => new Command { Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, Alarm = AlarmType.Nospace, MemberID = 1 } },
            "lease grant" => new Command { LeaseGrant = new LeaseGrantRequest { ID = 5, TTL = 10 } },
            "lease revoke" => new Command { LeaseRevoke = new LeaseRevokeRequest { ID = 5 } },
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        CommandShape.Validate(command);
    }

    public static TheoryData<string, ErrorCode> NotApplicable() => new()
    {
        { "no kind", ErrorCode.InvalidArgument },
        { "put without key", ErrorCode.KeyNotProvided },
        { "delete without key", ErrorCode.KeyNotProvided },
        { "txn one level too deep", ErrorCode.InvalidArgument },
        { "txn op without request", ErrorCode.InvalidArgument },
        { "txn compare without target value", ErrorCode.InvalidArgument },
        { "txn compare with unknown result", ErrorCode.InvalidArgument },
        { "txn range without key", ErrorCode.KeyNotProvided },
        { "alarm with unknown action", ErrorCode.InvalidArgument },
        { "lease grant without id", ErrorCode.InvalidArgument },
        { "lease grant with negative TTL", ErrorCode.InvalidArgument },
    };

    [Theory]
    [MemberData(nameof(NotApplicable))]
    public void Commands_no_member_could_apply_are_refused_before_the_log(string kind, ErrorCode code)
    {
        var command = kind switch
        {
            "no kind" => new Command(),
            "put without key" => new Command { Put = new PutRequest { Value = B("v") } },
            "delete without key" => new Command { DeleteRange = new DeleteRangeRequest() },
            "txn one level too deep" => new Command { Txn = Nested(CommandShape.MaxTxnDepth + 1) },
            "txn op without request" => new Command { Txn = new TxnRequest { Success = { new RequestOp() } } },
            "txn compare without target value" => new Command { Txn = new TxnRequest { Compare = { new Compare { Key = B("k"), Target = Compare.Types.CompareTarget.Value } } } },
            "txn compare with unknown result" => new Command { Txn = new TxnRequest { Compare = { new Compare { Key = B("k"), Version = 1, Result = (Compare.Types.CompareResult)42 } } } },
            "txn range without key" => new Command { Txn = new TxnRequest { Success = { new RequestOp { RequestRange = new RangeRequest() } } } },
            "alarm with unknown action" => new Command { Alarm = new AlarmRequest { Action = (AlarmRequest.Types.AlarmAction)9 } },
            "lease grant without id" => new Command { LeaseGrant = new LeaseGrantRequest { TTL = 10 } },
            "lease grant with negative TTL" => new Command { LeaseGrant = new LeaseGrantRequest { ID = 1, TTL = -1 } },
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        var e = Assert.Throws<ConclaveErrorException>(() => CommandShape.Validate(command));
        Assert.Equal(code, e.Code);
    }

    [Fact]
    public void The_deepest_txn_the_log_accepts_parses_and_applies_on_every_member()
    {
        // The bound exists so that nothing the check lets through fails protobuf's recursion limit at apply.
        using var store = new KeyValueStore();
        var command = new Command { Txn = Nested(CommandShape.MaxTxnDepth) };
        CommandShape.Validate(command);

        var result = store.Apply(1, KeyValueStore.Encode([command]));

        Assert.IsType<TxnResponse>(Assert.Single(result));
        Assert.Single(store.Range(new RangeRequest { Key = B("deep") }).Kvs);
        var firstFailing = Enumerable.Range(CommandShape.MaxTxnDepth, 40).First(d =>
        {
            using var s = new KeyValueStore();
            try
            {
                s.Apply(1, KeyValueStore.Encode([new Command { Txn = Nested(d) }]));
                return false;
            }
            catch (InvalidDataException)
            {
                return true;
            }
        });
        Assert.Equal(50, firstFailing);
    }

    [Fact]
    public void A_command_whose_apply_throws_is_rejected_alike_on_every_member_and_applying_goes_on()
    {
        // Two members applying the same entries with the same defect must end identical, and keep applying.
        var failures = new List<(long Index, int Position)>();
        Action<Command> defect = c =>
        {
            if (c.Put?.Key.ToStringUtf8() == "boom")
            {
                throw new NullReferenceException("a defect in apply");
            }
        };
        using var a = new KeyValueStore { BeforeApply = defect, CommandFailed = (i, p, _) => failures.Add((i, p)) };
        using var b = new KeyValueStore { BeforeApply = defect };
        var entry = KeyValueStore.Encode([Put("before"), Put("boom"), Put("after")]);

        var resultsA = a.Apply(1, entry);
        var resultsB = b.Apply(1, entry);

        Assert.IsType<PutResponse>(resultsA[0]);
        var rejected = Assert.IsType<ConclaveErrorException>(resultsA[1]);
        Assert.Contains("log entry 1", rejected.Message, StringComparison.Ordinal);
        Assert.IsType<PutResponse>(resultsA[2]);
        Assert.Equal([(1L, 1)], failures);
        Assert.Equal(1, a.AppliedIndex);

        var next = KeyValueStore.Encode([Put("later")]);
        Assert.IsType<PutResponse>(a.Apply(2, next)[0]);
        Assert.IsType<PutResponse>(b.Apply(2, next)[0]);
        Assert.Equal(Snapshot(a), Snapshot(b));
        Assert.Empty(a.Range(new RangeRequest { Key = B("boom") }).Kvs);
        Assert.Equal(3, a.KeyCount);
    }

    [Fact]
    public void Memory_exhaustion_while_applying_stops_the_member_instead()
    {
        using var store = new KeyValueStore { BeforeApply = _ => throw new OutOfMemoryException() };
        Assert.Throws<OutOfMemoryException>(() => store.Apply(1, KeyValueStore.Encode([Put("k")])));
    }

    [Fact]
    public void An_entry_in_a_format_this_build_does_not_read_stops_this_member_and_says_why()
    {
        using var store = new KeyValueStore();
        var future = new CommandBatch { FormatVersion = KeyValueStore.CommandFormatVersion + 1, Commands = { Put("k") } }.ToByteArray();

        var e = Assert.Throws<InvalidDataException>(() => store.Apply(3, future));
        Assert.Contains($"log entry 3 has command format {KeyValueStore.CommandFormatVersion + 1}", e.Message, StringComparison.Ordinal);
        Assert.Contains("upgrade", e.Message, StringComparison.Ordinal);

        var garbage = Assert.Throws<InvalidDataException>(() => store.Apply(4, [0x0A, 0xFF, 0xFF, 0xFF, 0x0F]));
        Assert.Contains("log entry 4", garbage.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.AppliedIndex);
    }

    private static byte[] Snapshot(KeyValueStore store)
    {
        using var image = new MemoryStream();
        store.WriteSnapshot(image);
        return image.ToArray();
    }
}

using Conclave.Api.ClusterInternal;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Server.Tests.Peers;

/// <summary>
/// Issue 18, items 1, 2 and 5: member-to-member services exist only on the peer listener, and the leader checks every
/// forwarded batch before it appends it, so no caller can put an entry into the log that a member cannot apply.
/// </summary>
public sealed class PeerBoundaryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster cluster = null!;

    public async Task InitializeAsync() => cluster = await TestCluster.StartAsync(3, output);

    public async Task DisposeAsync() => await cluster.DisposeAsync();

    [Fact]
    public async Task Member_to_member_services_are_unknown_on_the_client_url()
    {
        var leader = await cluster.WaitForLeaderAsync();
        var follower = await cluster.FollowerAsync();
        foreach (var member in new[] { leader, follower })
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[member]);
            var forwarding = new Forwarding.ForwardingClient(channel);
            // The reviewer's call: a batch in a format no member reads, which used to stop every member for good.
            var from = cluster[follower].Node.Consensus.Status.MemberId;
            var batch = Batch(3, from, Put("/_conclave/config/evil", "x"));

            await AssertUnimplemented(() => forwarding.ProposeAsync(new ForwardProposalRequest { FromMember = from, Batch = batch }).ResponseAsync);
            await AssertUnimplemented(() => forwarding.ReadIndexAsync(new ReadIndexRequest()).ResponseAsync);
            await AssertUnimplemented(() => forwarding.LeaseRenewAsync(new LeaseRenewRequest { Id = 1 }).ResponseAsync);
            await AssertUnimplemented(() => forwarding.RemovedAsync(new RemovedNotice { MemberId = cluster[member].Node.Consensus.Status.MemberId }).ResponseAsync);
            await AssertUnimplemented(() => forwarding.ConfigurationAsync(new ConfigurationRequest()).ResponseAsync);
            await AssertUnimplemented(async () =>
            {
                using var call = forwarding.Follow();
                await call.RequestStream.WriteAsync(new FollowRequest { MemberId = 42 });
                await call.ResponseStream.MoveNext();
            });
        }

        Assert.Empty(await RangeAsync(leader, "/_conclave/config/evil"));
        for (var i = 0; i < cluster.Count; i++)
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"alive/{i}"), Value = ByteString.CopyFromUtf8("yes") });
        }
    }

    public static TheoryData<string> BadBatches() =>
    [
        "format 3", "garbage", "empty", "no origin", "origin is not the sender", "origin is not a member", "no commands",
        "a command with no kind", "a put without a key", "a txn nested 33 deep", "a txn op without a request", "too large",
    ];

    [Theory]
    [MemberData(nameof(BadBatches))]
    public async Task The_leader_refuses_a_forwarded_batch_no_member_could_apply_and_the_cluster_keeps_serving(string kind)
    {
        var leader = await cluster.WaitForLeaderAsync();
        var follower = await cluster.FollowerAsync();
        var from = cluster[follower].Node.Consensus.Status.MemberId;
        var batch = kind switch
        {
            "format 3" => Batch(3, from, Put("k", "v")),
            "garbage" => ByteString.CopyFrom([0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]),
            "empty" => ByteString.Empty,
            "no origin" => new CommandBatch { FormatVersion = 1, Commands = { Put("k", "v") } }.ToByteString(),
            "origin is not the sender" => Batch(1, from + 1, Put("k", "v")),
            "origin is not a member" => Batch(1, 12345, Put("k", "v")),
            "no commands" => Batch(1, from),
            "a command with no kind" => Batch(1, from, new Command()),
            "a put without a key" => Batch(1, from, new Command { Put = new PutRequest { Value = ByteString.CopyFromUtf8("v") } }),
            "a txn nested 33 deep" => Batch(1, from, new Command { Txn = Nested(33) }),
            "a txn op without a request" => Batch(1, from, new Command { Txn = new TxnRequest { Success = { new RequestOp() } } }),
            "too large" => Batch(1, from, Put("k", new string('x', 5 * 1024 * 1024))),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var sender = kind == "origin is not a member" ? 12345 : from;

        var refused = await Assert.ThrowsAsync<RpcException>(() => ProposeOnLeaderAsync(new ForwardProposalRequest { FromMember = sender, Batch = batch }));
        Assert.True(
            refused.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted,
            $"{kind}: {refused.StatusCode} {refused.Status.Detail}");
        output.WriteLine($"{kind}: {refused.StatusCode} {refused.Status.Detail}");

        // Every member is still up, takes writes and agrees.
        for (var i = 0; i < cluster.Count; i++)
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"after/{i}"), Value = ByteString.CopyFromUtf8("ok") });
        }

        var revisions = new List<long>();
        for (var i = 0; i < cluster.Count; i++)
        {
            revisions.Add((await RangeAsync(i, "after/", prefix: true)).Max(kv => kv.ModRevision));
        }

        Assert.Single(revisions.Distinct());
        Assert.Empty(await RangeAsync(leader, "k"));
    }

    [Fact]
    public async Task A_valid_forwarded_batch_is_appended_and_applied_everywhere()
    {
        // The check refuses what cannot be applied, not what members send: the same path as a follower's own writes.
        var follower = await cluster.FollowerAsync();
        var from = cluster[follower].Node.Consensus.Status.MemberId;

        await ProposeOnLeaderAsync(new ForwardProposalRequest
        {
            FromMember = from,
            Batch = Batch(1, from, Put("forwarded/a", "1"), Put("forwarded/b", "2")),
        });

        // Applied everywhere (a follower learns of the commit with the next heartbeat).
        await Eventually.WaitAsync(
            async _ =>
            {
                for (var i = 0; i < cluster.Count; i++)
                {
                    if ((await RangeAsync(i, "forwarded/", prefix: true, serializable: true)).Count < 2)
                    {
                        return false;
                    }
                }

                return true;
            },
            Eventually.DefaultTimeout,
            "every member applied the forwarded batch");

        Assert.Equal(["1", "2"], (await RangeAsync(0, "forwarded/", prefix: true)).Select(kv => kv.Value.ToStringUtf8()));
    }

    [Fact]
    public async Task A_removal_notice_does_not_stop_a_member_the_configuration_still_holds()
    {
        var follower = await cluster.FollowerAsync();
        var consensus = cluster[follower].Node.Consensus;
        using var peer = PeerChannels.Open(cluster[follower].PeerUrl);

        // The member checks with the members of its own configuration before it returns; they still list it.
        await new Forwarding.ForwardingClient(peer).RemovedAsync(new RemovedNotice { MemberId = consensus.Status.MemberId });

        Assert.False(consensus.Removed.IsCancellationRequested);
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[follower]);
        await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("still/here"), Value = ByteString.CopyFromUtf8("yes") });
    }

    [Fact]
    public async Task A_client_that_dials_the_peer_listener_without_the_preamble_is_closed_unserved()
    {
        var leader = await cluster.WaitForLeaderAsync();
        using var channel = GrpcChannel.ForAddress(cluster[leader].PeerUrl);
        var e = await Assert.ThrowsAsync<RpcException>(() => new KV.KVClient(channel)
            .PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("via/peer"), Value = ByteString.CopyFromUtf8("x") }).ResponseAsync);
        // The connection is closed during the HTTP/2 preface: gRPC reports Unavailable or Internal depending on timing.
        Assert.Contains(e.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Empty(await RangeAsync(leader, "via/peer"));
    }

    /// <summary>
    /// Sends a Propose to the leader's peer listener, as a follower does; "not the leader" (a leader named a moment before
    /// it takes office, or a leader change) is asked again of the next leader, as followers do.
    /// </summary>
    private async Task ProposeOnLeaderAsync(ForwardProposalRequest request)
    {
        var deadline = DateTime.UtcNow + Eventually.DefaultTimeout;
        while (true)
        {
            var leader = await cluster.WaitForLeaderAsync();
            using var peer = PeerChannels.Open(cluster[leader].PeerUrl);
            try
            {
                await new Forwarding.ForwardingClient(peer).ProposeAsync(request);
                return;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private async Task<IReadOnlyList<Conclave.Api.Mvcc.KeyValue>> RangeAsync(int member, string key, bool prefix = false, bool serializable = false)
    {
        using var channel = GrpcChannel.ForAddress(cluster.Endpoints[member]);
        var request = new RangeRequest { Key = ByteString.CopyFromUtf8(key), Serializable = serializable };
        if (prefix)
        {
            request.RangeEnd = ByteString.CopyFromUtf8(key[..^1] + (char)(key[^1] + 1));
        }

        return (await new KV.KVClient(channel).RangeAsync(request)).Kvs;
    }

    private static async Task AssertUnimplemented(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.Unimplemented, e.StatusCode);
    }

    private static Command Put(string key, string value) =>
        new() { Put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } };

    /// <summary>A batch laid out as members write theirs: format, origin, batch id, then the commands.</summary>
    private static ByteString Batch(uint format, ulong origin, params Command[] commands)
    {
        using var bytes = new MemoryStream();
        var output = new CodedOutputStream(bytes);
        output.WriteTag(CommandBatch.FormatVersionFieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt32(format);
        output.WriteTag(CommandBatch.OriginMemberFieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(origin);
        output.WriteTag(CommandBatch.OriginBatchFieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(7);
        foreach (var command in commands)
        {
            output.WriteTag(CommandBatch.CommandsFieldNumber, WireFormat.WireType.LengthDelimited);
            output.WriteMessage(command);
        }

        output.Flush();
        return ByteString.CopyFrom(bytes.ToArray());
    }

    private static TxnRequest Nested(int depth)
    {
        var txn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8("deep"), Value = ByteString.CopyFromUtf8("v") } } } };
        for (var i = 1; i < depth; i++)
        {
            txn = new TxnRequest { Success = { new RequestOp { RequestTxn = txn } } };
        }

        return txn;
    }
}

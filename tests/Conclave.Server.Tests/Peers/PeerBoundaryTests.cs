using Conclave.Api.ClusterInternal;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Cluster.Peers;
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
            var from = cluster[follower].Node.Consensus.Status.MemberId;
            var batch = Batch(3, from, Put("/_conclave/config/evil", "x"));

            // Member-to-member requests travel on the peer listener's request channel (ADR 0013): none is a gRPC method
            // anywhere, the learner feed included.
            foreach (var method in new[] { "Propose", "ReadIndex", "LeaseRenew", "Removed", "Configuration", "Follow" })
            {
                await AssertUnimplemented(() => channel.CreateCallInvoker().AsyncUnaryCall(RawMethod(method), null, default, batch.ToByteArray()).ResponseAsync);
            }

            // The request channel's own bytes (its preamble, then a forwarded batch) on the client URL: closed unserved.
            await AssertClosedUnservedAsync(cluster.Endpoints[member], from, batch.ToByteArray());
        }

        Assert.Empty(await RangeAsync(leader, "/_conclave/config/evil"));
        for (var i = 0; i < cluster.Count; i++)
        {
            using var channel = GrpcChannel.ForAddress(cluster.Endpoints[i]);
            await new KV.KVClient(channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"alive/{i}"), Value = ByteString.CopyFromUtf8("yes") });
        }
    }

    private static Method<byte[], byte[]> RawMethod(string name)
    {
        var bytes = Marshallers.Create(static (byte[] b) => b, static b => b);
        return new Method<byte[], byte[]>(MethodType.Unary, "conclave.cluster.v1.Forwarding", name, bytes, bytes);
    }

    private static async Task AssertClosedUnservedAsync(string clientUrl, ulong from, byte[] batch)
    {
        var uri = new Uri(clientUrl);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(uri.Host, uri.Port);
        byte[] frame = [.. "CNCLQ\u0001\0\0"u8, 1, 1, 1, 0, .. BitConverter.GetBytes((uint)(8 + batch.Length)), .. BitConverter.GetBytes(1UL), .. BitConverter.GetBytes(from), .. batch];
        await socket.SendAsync(frame, System.Net.Sockets.SocketFlags.None);
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        try
        {
            // Kestrel answers a broken HTTP/2 preface with at most a GOAWAY, then closes; never a request channel answer.
            while (await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, deadline.Token) is var n and > 0)
            {
                Assert.NotEqual(1, buffer[0]); // a request channel frame starts with its version, 1
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Reset: closed as well.
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

        // Refused before anything is appended: ArgumentException is the request channel's "refused: bad batch" answer
        // (or, for one too large to be a request at all, the sender's own refusal).
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ProposeOnLeaderAsync(sender, batch));
        // Too large for the request channel: the leader closes the connection at the frame's header, without reading it.
        Assert.True(refused is ArgumentException || (kind == "too large" && refused is PeerRequestException), $"{kind}: {refused}");
        output.WriteLine($"{kind}: {refused.Message}");

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
        // Nothing of the refused batch is in the old leader's own state (a local read: it says what that member holds,
        // whoever leads by now on a loaded machine).
        Assert.Empty(await RangeAsync(leader, "k", serializable: true));
    }

    [Fact]
    public async Task A_valid_forwarded_batch_is_appended_and_applied_everywhere()
    {
        // The check refuses what cannot be applied, not what members send: the same path as a follower's own writes.
        var follower = await cluster.FollowerAsync();
        var from = cluster[follower].Node.Consensus.Status.MemberId;

        await ProposeOnLeaderAsync(from, Batch(1, from, Put("forwarded/a", "1"), Put("forwarded/b", "2")));

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
        await using var peer = new PeerRequests();

        // The member checks with the members of its own configuration before it returns; they still list it.
        await peer.RemovedAsync(cluster[follower].PeerUrl, consensus.Status.MemberId);

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
    /// Forwards a batch to the leader's request channel, as a follower does; "not the leader" (a leader named a moment
    /// before it takes office, or a leader change) is asked again of the next leader, as followers do.
    /// </summary>
    private async Task ProposeOnLeaderAsync(ulong from, ByteString batch)
    {
        var deadline = DateTime.UtcNow + Eventually.DefaultTimeout;
        await using var peer = new PeerRequests();
        while (true)
        {
            var leader = await cluster.WaitForLeaderAsync();
            try
            {
                await peer.ProposeAsync(cluster[leader].PeerUrl, from, batch.Memory);
                return;
            }
            catch (Conclave.Cluster.ConsensusUnavailableException e) when (e.NotApplied && DateTime.UtcNow < deadline)
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

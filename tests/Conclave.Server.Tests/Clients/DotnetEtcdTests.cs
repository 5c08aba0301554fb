using System.Collections.Concurrent;
using Conclave.Server.Tests.Fixtures;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Server.Tests.Clients;

/// <summary>A real etcd client library nobody here wrote: dotnet-etcd (generated from etcd's own protos).</summary>
public sealed class DotnetEtcdTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Put_get_and_get_val()
    {
        using var client = Connect();
        var key = Keys.Unique("de");

        var put = await client.PutAsync(key, "value-1");
        var get = await client.GetAsync(key);
        var val = await client.GetValAsync(key);

        Assert.True(put.Header.Revision > 1);
        var kv = Assert.Single(get.Kvs);
        Assert.Equal(key, kv.Key.ToStringUtf8());
        Assert.Equal(put.Header.Revision, kv.ModRevision);
        Assert.Equal("value-1", val);
    }

    [Fact]
    public async Task Get_range_by_prefix_and_delete_range()
    {
        using var client = Connect();
        var p = Keys.Unique("derange");
        await client.PutAsync($"{p}/1", "a");
        await client.PutAsync($"{p}/2", "b");
        await client.PutAsync($"{p}/3", "c");

        var values = await client.GetRangeValAsync($"{p}/");
        var single = await client.DeleteAsync($"{p}/1");
        var rest = await client.DeleteRangeAsync($"{p}/");
        var after = await client.GetRangeAsync($"{p}/");

        Assert.Equal(new Dictionary<string, string> { [$"{p}/1"] = "a", [$"{p}/2"] = "b", [$"{p}/3"] = "c" }, values);
        Assert.Equal(1, single.Deleted);
        Assert.Equal(2, rest.Deleted);
        Assert.Equal(0, after.Count);
    }

    [Fact]
    public async Task Transaction_compares_and_chooses_a_branch()
    {
        using var client = Connect();
        var key = Keys.Unique("detxn");
        var put = await client.PutAsync(key, "v1");
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = put.Header.Revision });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8("v2") } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(key) } });

        var first = await client.TransactionAsync(txn);
        var second = await client.TransactionAsync(txn);

        Assert.True(first.Succeeded);
        Assert.NotNull(first.Responses[0].ResponsePut);
        Assert.False(second.Succeeded);
        Assert.Equal("v2", second.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8());
    }

    [Fact]
    public async Task Watch_delivers_puts_and_deletes_in_revision_order()
    {
        using var client = Connect();
        var p = Keys.Unique("dewatch");
        var start = (await client.GetAsync("watch-start-probe")).Header.Revision + 1;
        var events = new ConcurrentQueue<Mvccpb.Event>();
        var request = new WatchRequest
        {
            CreateRequest = new WatchCreateRequest
            {
                Key = ByteString.CopyFromUtf8($"{p}/"),
                RangeEnd = ByteString.CopyFromUtf8($"{p}0"),
                StartRevision = start,
            },
        };
        using var stop = new CancellationTokenSource();

        await client.WatchAsync(request, (WatchResponse r) =>
        {
            foreach (var e in r.Events)
            {
                events.Enqueue(e);
            }
        }, cancellationToken: stop.Token);
        var a = await client.PutAsync($"{p}/a", "1");
        var b = await client.PutAsync($"{p}/b", "2");
        var d = await client.DeleteAsync($"{p}/a");

        await Eventually.WaitAsync(() => events.Count >= 3, TimeSpan.FromSeconds(20), "three watch events");
        await stop.CancelAsync();
        var seen = events.ToArray();
        Assert.Equal(3, seen.Length);
        Assert.Equal([a.Header.Revision, b.Header.Revision, d.Header.Revision], seen.Select(e => e.Kv.ModRevision));
        Assert.Equal([Mvccpb.Event.Types.EventType.Put, Mvccpb.Event.Types.EventType.Put, Mvccpb.Event.Types.EventType.Delete], seen.Select(e => e.Type));
        Assert.Equal("2", seen[1].Kv.Value.ToStringUtf8());
    }

    [Fact]
    public async Task Status_and_member_list()
    {
        using var client = Connect();

        var status = await client.StatusAsync(new StatusRequest());
        var members = await client.MemberListAsync(new MemberListRequest());

        Assert.Equal(status.Header.MemberId, status.Leader);
        var member = Assert.Single(members.Members);
        Assert.Equal(status.Header.MemberId, member.ID);
        Assert.Equal([fixture.Endpoint], member.ClientURLs);
    }

    [Fact]
    public async Task Errors_surface_as_rpc_exceptions_with_etcds_message()
    {
        using var client = Connect();

        var e = await Assert.ThrowsAsync<RpcException>(() => client.PutAsync(new PutRequest { Key = ByteString.Empty, Value = ByteString.CopyFromUtf8("v") }));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("etcdserver: key is not provided", e.Status.Detail);
    }

    private EtcdClient Connect() =>
        new(fixture.Endpoint, configureChannelOptions: o => o.Credentials = ChannelCredentials.Insecure);
}

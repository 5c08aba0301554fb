using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Conclave.Api.Etcd;
using Conclave.Api.Raft;
using Conclave.Server.Tests.Fixtures;
using Conclave.Storage;
using Google.Protobuf;
using Grpc.Core;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Errors;

/// <summary>
/// Txns nested in txns: accepted up to <see cref="RequestValidator.MaxTxnDepth"/> levels (and within etcd's shrinking
/// operation budget), refused beyond with etcd's too-many-operations error over gRPC and JSON alike, however deep
/// (a 90-deep txn used to fail inside protobuf with "Exception was thrown by handler"). Everything accepted must also
/// decode from the log on every member, and the whole path at the limit stays far from any stack limit.
/// </summary>
public sealed class NestedTxnTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const string TooManyOps = "etcdserver: too many operations in txn request";

    /// <summary>A chain of <paramref name="depth"/> txns, each comparing and holding the next; the innermost puts <paramref name="key"/>.</summary>
    internal static TxnRequest Deep(int depth, string key)
    {
        var txn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = Bytes(key), Value = Bytes($"depth {depth}") } } } };
        for (var level = depth - 1; level >= 1; level--)
        {
            txn = new TxnRequest
            {
                Compare = { new Compare { Key = Bytes(key), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Greater, Version = -1 } },
                Success = { new RequestOp { RequestTxn = txn } },
            };
        }

        return txn;
    }

    [Fact]
    public async Task Txn_nested_to_the_limit_applies_and_deeper_is_too_many_operations_at_any_depth()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var key = Keys.Unique("deep");

        var atLimit = await kv.TxnAsync(Deep(RequestValidator.MaxTxnDepth, key));
        var refused = new Dictionary<int, RpcException>();
        foreach (var depth in new[] { RequestValidator.MaxTxnDepth + 1, 49, 50, 51, 90, 500 })
        {
            refused[depth] = await Assert.ThrowsAsync<RpcException>(async () => await kv.TxnAsync(Deep(depth, key)));
        }

        Assert.True(atLimit.Succeeded);
        Assert.Equal($"depth {RequestValidator.MaxTxnDepth}", (await kv.RangeAsync(new RangeRequest { Key = Bytes(key) })).Kvs.Single().Value.ToStringUtf8());
        Assert.All(refused.Values, e => Assert.Equal((StatusCode.InvalidArgument, TooManyOps), (e.StatusCode, e.Status.Detail)));
        Assert.All(refused.Values, e => Assert.Contains($"the limit is {RequestValidator.MaxTxnDepth} levels", e.Trailers.GetValue("conclave-detail"), StringComparison.Ordinal));
        // The member still serves writes: nothing undecodable reached the log.
        await PutAsync(kv, key, "after");
    }

    [Fact]
    public async Task Nested_txns_use_what_the_enclosing_txns_left_of_the_operation_budget_as_etcd()
    {
        using var channel = fixture.Node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var p = Keys.Unique("budget");
        TxnRequest Wide(int puts) => new()
        {
            Success =
            {
                Enumerable.Range(0, puts).Select(i => new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/{i}"), Value = Bytes("v") } }),
                new RequestOp { RequestTxn = new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Key = Bytes($"{p}/nested"), Value = Bytes("v") } } } } },
            },
        };

        var fits = await kv.TxnAsync(Wide(126));
        var over = await Assert.ThrowsAsync<RpcException>(async () => await kv.TxnAsync(Wide(127)));

        Assert.True(fits.Succeeded);
        Assert.Equal(TooManyOps, over.Status.Detail);
        Assert.Contains("at nesting level 2", over.Trailers.GetValue("conclave-detail"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_gateway_refuses_deep_txns_with_the_same_error()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("deepjson");
        var formatter = new JsonFormatter(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

        foreach (var (depth, expected) in new[] { (RequestValidator.MaxTxnDepth, HttpStatusCode.OK), (RequestValidator.MaxTxnDepth + 1, HttpStatusCode.BadRequest), (90, HttpStatusCode.BadRequest) })
        {
            using var content = new StringContent(formatter.Format(Deep(depth, key)), System.Text.Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri("/v3/kv/txn", UriKind.Relative), content);
            Assert.Equal(expected, response.StatusCode);
            if (expected != HttpStatusCode.OK)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal(TooManyOps, body.GetProperty("error").GetString());
            }
        }
    }

    /// <summary>
    /// The deepest accepted txn, end to end in process: validated (edge and log shape), encoded as a log entry, decoded and applied
    /// by a store, its response sized and formatted as JSON, all on a thread with a 256 KiB stack (a thread-pool
    /// thread has 1.5 MiB on Linux): the recursion at the limit is shallow.
    /// </summary>
    [Fact]
    public void The_deepest_accepted_txn_decodes_from_the_log_and_runs_in_a_small_stack()
    {
        var txn = Deep(RequestValidator.MaxTxnDepth, "stack");
        Exception? failure = null;
        TxnResponse? response = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    var parsed = TxnRequest.Parser.ParseFrom(txn.ToByteArray());
                    RequestValidator.ValidateTxn(parsed, 128);
                    CommandShape.Validate(new Command { Txn = parsed });
                    var entry = KeyValueStore.Encode([new Command { Txn = parsed }]);
                    using var store = new KeyValueStore();
                    response = (TxnResponse)store.Apply(1, entry).Single()!;
                    _ = response.CalculateSize();
                    _ = new JsonFormatter(JsonFormatter.Settings.Default).Format(response);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            },
            maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();

        Assert.Null(failure);
        Assert.True(response!.Succeeded);
    }
}

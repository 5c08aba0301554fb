using System.Text.Json;
using Conclave.Api.Etcd;
using Conclave.Bench;
using Conclave.Bench.Http2;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Bench.Tests.Lean;

/// <summary>
/// The lean transport and the bench commands end to end against a real server: every derived class runs the same
/// checks against another etcd-v3 implementation (Conclave in-process, etcd 3.4).
/// </summary>
public abstract class LeanTransportConformance(IKvEndpoint server) : IDisposable
{
    private readonly LeanCallInvoker _invoker = LeanCallInvoker.TryCreate(server.Endpoint, out var invoker) ? invoker : throw new InvalidOperationException(server.Endpoint);
    private readonly string _prefix = $"/lean/{Guid.NewGuid():N}/";

    private KV.KVClient Kv => new(_invoker);

    [Fact]
    public async Task Put_then_range_returns_the_value()
    {
        var key = ByteString.CopyFromUtf8(_prefix + "k");
        var put = await Kv.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFromUtf8("v1") });
        var range = await Kv.RangeAsync(new RangeRequest { Key = key });

        Assert.True(put.Header.Revision > 0);
        Assert.Equal("v1", Assert.Single(range.Kvs).Value.ToStringUtf8());
        Assert.Equal(put.Header.Revision, range.Kvs[0].ModRevision);
    }

    [Fact]
    public async Task A_server_error_carries_its_status_and_message()
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(_prefix), Revision = 1_000_000_000 }));

        Assert.Equal(StatusCode.OutOfRange, e.StatusCode);
        Assert.Contains("future revision", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_one_mebibyte_value_crosses_frames_and_flow_control_windows()
    {
        var value = new byte[1 << 20];
        new Random(7).NextBytes(value);
        var key = ByteString.CopyFromUtf8(_prefix + "big");
        await Kv.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFrom(value) });

        var range = await Kv.RangeAsync(new RangeRequest { Key = key });
        Assert.Equal(value, Assert.Single(range.Kvs).Value.ToByteArray());
    }

    [Fact]
    public async Task Hundreds_of_concurrent_calls_share_one_connection()
    {
        var puts = Enumerable.Range(0, 500).Select(i => Kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{_prefix}many/{i:D3}"), Value = ByteString.CopyFromUtf8("v") }).ResponseAsync);
        await Task.WhenAll(puts);

        var count = await Kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(_prefix + "many/"), RangeEnd = ByteString.CopyFromUtf8(_prefix + "many0"), CountOnly = true });
        Assert.Equal(500, count.Count);
    }

    [Fact]
    public async Task A_canceled_token_fails_the_call_with_cancelled()
    {
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        var e = await Assert.ThrowsAsync<RpcException>(async () => await Kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(_prefix + "c") }, cancellationToken: canceled.Token));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
    }

    [Fact]
    public async Task Bench_put_and_range_run_on_the_lean_transport()
    {
        var settings = new BenchSettings([server.Endpoint], Conns: 2, Clients: 16, Total: 2000, Duration: null, KeySize: 8, ValueSize: 256, Json: true);
        Assert.Equal(BenchTransport.Lean, settings.Transport);

        using var put = JsonDocument.Parse(await PutBench.RunAsync(settings, keySpace: 100, sequential: false, CancellationToken.None));
        await Kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(_prefix + "r"), Value = ByteString.CopyFromUtf8("v") });
        using var range = JsonDocument.Parse(await RangeBench.RunAsync(settings, _prefix + "r", prefix: false, serializable: true, CancellationToken.None));

        Assert.Equal(2000, put.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(0, put.RootElement.GetProperty("errors").GetInt64());
        Assert.Equal(2000, range.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(0, range.RootElement.GetProperty("errors").GetInt64());
    }

    [Fact]
    public async Task Bench_commands_put_range_and_watch_report_figures_as_json()
    {
        var put = await BenchRun.RunAsync("put", "--endpoints", server.Endpoint, "--conns", "2", "--clients", "4", "--total", "200", "--key-space-size", "20", "--json");
        var range = await BenchRun.RunAsync("range", "--endpoints", server.Endpoint, "--clients", "2", "--total", "100", "--consistency", "s", "--json");
        var watch = await BenchRun.RunAsync("watch", "--endpoints", server.Endpoint, "--watchers", "3", "--total", "60", "--rate", "0", "--clients", "2", "--json");

        Assert.Equal((0, string.Empty), (put.ExitCode, put.Error));
        using var putJson = JsonDocument.Parse(put.Out);
        Assert.Equal(200, putJson.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(0, putJson.RootElement.GetProperty("errors").GetInt64());
        Assert.True(putJson.RootElement.GetProperty("latency_ms").GetProperty("p99").GetDouble() > 0);
        using var rangeJson = JsonDocument.Parse(range.Out);
        Assert.Equal(100, rangeJson.RootElement.GetProperty("total").GetInt64());
        using var watchJson = JsonDocument.Parse(watch.Out);
        Assert.Equal(60, watchJson.RootElement.GetProperty("puts").GetInt64());
        Assert.Equal(3 * 61, watchJson.RootElement.GetProperty("events_received").GetInt64());
        Assert.Equal(0, watchJson.RootElement.GetProperty("lost").GetInt64());
        Assert.Equal(0, watchJson.RootElement.GetProperty("duplicates").GetInt64());
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_one_line_on_stderr()
    {
        var dead = $"127.0.0.1:{FreePorts.Take(1)[0]}";

        var put = await BenchRun.RunAsync("put", "--endpoints", dead, "--total", "10");

        Assert.Equal(BenchExit.Failure, put.ExitCode);
        Assert.Equal(string.Empty, put.Out);
        Assert.Matches($"^Error: http://{dead} is unavailable: .+\n$", put.Error);
    }

    public void Dispose()
    {
        _invoker.Dispose();
        GC.SuppressFinalize(this);
    }
}

using Conclave.Api.Etcd;
using Conclave.Server.Tests.Fixtures;
using Grpc.Core;
using static Conclave.Server.Tests.Fixtures.Grpc;

namespace Conclave.Server.Tests.Errors;

/// <summary>A tiny --quota-backend-bytes: writes past it raise NOSPACE and are refused; reads, deletes and compaction go on.</summary>
public sealed class QuotaTests(ITestOutputHelper output)
{
    private const string NoSpace = "etcdserver: mvcc: database space exceeded";

    [Fact]
    public async Task Writes_past_the_quota_raise_NOSPACE_while_reads_deletes_and_compaction_still_work()
    {
        await using var node = await TestNode.StartInProcessAsync(output, o => o with { QuotaBackendBytes = 64 * 1024 });
        using var channel = node.CreateChannel();
        var kv = new KV.KVClient(channel);
        var p = Keys.Unique("quota");
        var value = new string('q', 1024);

        // Fill until the first refusal; 64 KiB of 1 KiB values must run out long before 1000 puts.
        Status? refused = null;
        var written = new List<(string Key, long Revision)>();
        for (var i = 0; i < 1000 && refused is null; i++)
        {
            try
            {
                var put = await PutAsync(kv, $"{p}/{i:D4}", value);
                written.Add(($"{p}/{i:D4}", put.Header.Revision));
            }
            catch (RpcException e)
            {
                refused = e.Status;
            }
        }

        output.WriteLine($"{written.Count} puts of 1 KiB were accepted before the quota refused one");
        Assert.NotNull(refused);
        Assert.Equal(StatusCode.ResourceExhausted, refused.Value.StatusCode);
        Assert.Equal(NoSpace, refused.Value.Detail);
        Assert.NotEmpty(written);

        // The alarm is raised and visible to etcdctl; more writes are refused, even small ones.
        var alarms = await Etcdctl.RunAsync(node.Endpoint, "alarm", "list");
        Assert.Matches(@"^memberID:\d+ alarm:NOSPACE\s*$", alarms.Stdout);
        var smallPut = await Etcdctl.RunAsync(node.Endpoint, "put", $"{p}/small", "x");
        Assert.NotEqual(0, smallPut.ExitCode);
        Assert.Contains($"Error: {NoSpace}", smallPut.Stderr, StringComparison.Ordinal);
        using var http = node.CreateHttpClient();
        var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Contains("NOSPACE", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Reads still work.
        var range = await kv.RangeAsync(new RangeRequest { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0"), CountOnly = true });
        Assert.Equal(written.Count, range.Count);
        var first = await Etcdctl.RunAsync(node.Endpoint, "get", written[0].Key, "--print-value-only");
        Assert.Equal([value], first.Lines);

        // Deletes and compaction still work.
        var deleted = await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Bytes($"{p}/"), RangeEnd = Bytes($"{p}0") });
        Assert.Equal(written.Count, deleted.Deleted);
        var compaction = await Etcdctl.RunAsync(node.Endpoint, "compaction", $"{deleted.Header.Revision}");
        Assert.True(compaction.ExitCode == 0, compaction.ToString());

        // With the space freed, disarming the alarm lets writes in again (etcd's recovery procedure).
        var disarm = await Etcdctl.RunAsync(node.Endpoint, "alarm", "disarm");
        Assert.True(disarm.ExitCode == 0, disarm.ToString());
        var afterDisarm = await Etcdctl.RunAsync(node.Endpoint, "put", $"{p}/again", "ok");
        Assert.True(afterDisarm.ExitCode == 0, afterDisarm.ToString());
        var noAlarms = await Etcdctl.RunAsync(node.Endpoint, "alarm", "list");
        Assert.Equal("", noAlarms.Stdout);
    }
}

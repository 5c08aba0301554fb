using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>Checks after a fault run: every member holds every acknowledged write and the same keyspace.</summary>
internal static class Convergence
{
    /// <summary>
    /// Waits until every member answers etcd's HashKV at one revision with the same hash, then checks that each
    /// member's keyspace holds every acknowledged key (a serializable read, so it is that member's own state).
    /// </summary>
    public static async Task AssertAsync(IReadOnlyList<string> endpoints, IReadOnlyDictionary<string, long> acknowledged, ITestOutputHelper output, Func<string, GrpcChannel>? connect = null)
    {
        var channels = endpoints.Select(connect ?? (static e => GrpcChannel.ForAddress(e))).ToArray();
        try
        {
            var revision = 0L;
            uint[] hashes = [];
            await Eventually.WaitAsync(
                async ct =>
                {
                    var statuses = await Task.WhenAll(channels.Select(c => new Maintenance.MaintenanceClient(c).StatusAsync(new StatusRequest(), cancellationToken: ct).ResponseAsync));
                    revision = statuses.Min(static s => s.Header.Revision);
                    var r = revision;
                    var answers = await Task.WhenAll(channels.Select(c => new Maintenance.MaintenanceClient(c).HashKVAsync(new HashKVRequest { Revision = r }, cancellationToken: ct).ResponseAsync));
                    hashes = [.. answers.Select(static a => a.Hash)];
                    return hashes.Distinct().Count() == 1;
                },
                TimeSpan.FromSeconds(30),
                "every member has the same HashKV at one revision");
            output.WriteLine($"HashKV at revision {revision}: {string.Join(", ", hashes.Select(h => h.ToString("x8")))}");

            for (var i = 0; i < channels.Length; i++)
            {
                var range = await new KV.KVClient(channels[i]).RangeAsync(new RangeRequest
                {
                    Key = ByteString.CopyFromUtf8("w"),
                    RangeEnd = ByteString.CopyFromUtf8("x"),
                    KeysOnly = true,
                    Serializable = true,
                });
                var present = range.Kvs.Select(static kv => kv.Key.ToStringUtf8()).ToHashSet();
                var lost = acknowledged.Keys.Where(k => !present.Contains(k)).Order().ToList();
                Assert.True(lost.Count == 0, $"member {i} ({endpoints[i]}) lost {lost.Count} acknowledged write(s) (HashKV-equal at revision {revision}): {string.Join(", ", lost.Take(20).Select(k => $"{k}@rev{acknowledged[k]}"))}");
            }
        }
        finally
        {
            foreach (var c in channels)
            {
                c.Dispose();
            }
        }
    }
}

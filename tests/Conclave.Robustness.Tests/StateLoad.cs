using System.Globalization;
using Conclave.Api.Etcd;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Conclave.Robustness.Tests;

/// <summary>Fills a cluster with state before its faults: <c>bulk/NNNNNNNN</c> keys, random values (nothing compresses).</summary>
internal static class StateLoad
{
    /// <summary>
    /// The fault suite at a large state (issue 23): every fault test loads this many MB into its cluster before its faults
    /// start: 200 by default (CI), <c>CONCLAVE_FAULT_STATE_MB</c> for another size (<c>bench/fault-suite.sh</c> at a
    /// gigabyte; 0 to run the faults on an empty state).
    /// </summary>
    public static int FaultStateMegabytes { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("CONCLAVE_FAULT_STATE_MB"), CultureInfo.InvariantCulture, out var mb) && mb >= 0 ? mb : 200;

    /// <summary>Loads <see cref="FaultStateMegabytes"/> through the current leader when set; nothing otherwise.</summary>
    public static async Task LoadFaultStateAsync(ProcessCluster cluster, ITestOutputHelper output)
    {
        if (FaultStateMegabytes == 0)
        {
            return;
        }

        var leader = await cluster.WaitForLeaderAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var channel = cluster.Connect(cluster.Endpoints[leader]);
        await LoadAsync(channel, FaultStateMegabytes, valueBytes: 16 * 1024, writers: 16);
        output.WriteLine($"fault state: {FaultStateMegabytes} MB loaded through m{leader + 1} in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Writes about <paramref name="megabytes"/> MB of <paramref name="valueBytes"/>-byte values from <paramref name="writers"/> writers.</summary>
    public static async Task LoadAsync(GrpcChannel channel, int megabytes, int valueBytes, int writers)
    {
        var kv = new KV.KVClient(channel);
        var count = (int)((long)megabytes * 1024 * 1024 / valueBytes);
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async writer =>
        {
            var bytes = new byte[valueBytes];
            var random = new Random(writer);
            for (var i = writer; i < count; i += writers)
            {
                random.NextBytes(bytes);
                var put = new PutRequest { Key = ByteString.CopyFromUtf8($"bulk/{i:D8}"), Value = ByteString.CopyFrom(bytes) };
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await kv.PutAsync(put);
                        break;
                    }
                    catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 50)
                    {
                        // A leader change under this load (3 members on 2 cores): the same put again, as a client would.
                        await Task.Delay(100);
                    }
                }
            }
        }));
    }
}

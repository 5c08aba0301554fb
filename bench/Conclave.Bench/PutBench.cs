using Conclave.Api.Etcd;

namespace Conclave.Bench;

/// <summary><c>conclave-bench put</c>: closed-loop writes of fixed-size values over a key space.</summary>
internal static class PutBench
{
    public static async Task<string> RunAsync(BenchSettings settings, long keySpace, bool sequential, CancellationToken cancellationToken)
    {
        var keys = BenchKeys.Create(string.Empty, keySpace, settings.KeySize);
        var value = BenchKeys.Value(settings.ValueSize);
        var requests = new PutRequest[keys.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = new PutRequest { Key = keys[i], Value = value };
        }

        var randoms = new Random[settings.Clients];
        for (var c = 0; c < randoms.Length; c++)
        {
            randoms[c] = new Random(c);
        }

        using var connections = await BenchConnections.OpenAsync(settings, cancellationToken);
        var kv = connections.Kv;
        var result = await ClosedLoop.RunAsync(
            settings,
            (client, i, ct) =>
            {
                var index = sequential ? i % requests.Length : randoms[client].NextInt64(requests.Length);
                return kv[client % kv.Length].PutAsync(requests[index], cancellationToken: ct).ResponseAsync;
            },
            cancellationToken);
        return BenchReport.ClosedLoop("put", settings, result, $", key space {keySpace}{(sequential ? " sequential" : " random")}");
    }
}

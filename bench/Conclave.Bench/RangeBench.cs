using Conclave.Api.Etcd;
using Google.Protobuf;

namespace Conclave.Bench;

/// <summary><c>conclave-bench range</c>: closed-loop reads of one key (or prefix), linearizable or serializable.</summary>
internal static class RangeBench
{
    public static async Task<string> RunAsync(BenchSettings settings, string key, bool prefix, bool serializable, CancellationToken cancellationToken)
    {
        var keyBytes = ByteString.CopyFromUtf8(key);
        var request = new RangeRequest { Key = keyBytes, Serializable = serializable };
        if (prefix)
        {
            request.RangeEnd = PrefixEnd(keyBytes);
        }

        using var connections = await BenchConnections.OpenAsync(settings, cancellationToken);
        var kv = connections.Kv;
        var result = await ClosedLoop.RunAsync(
            settings,
            (client, _, ct) => kv[client % kv.Length].RangeAsync(request, cancellationToken: ct).ResponseAsync,
            cancellationToken);
        return BenchReport.ClosedLoop("range", settings, result, $", key '{key}'{(prefix ? " (prefix)" : string.Empty)}, {(serializable ? "serializable" : "linearizable")}");
    }

    private static ByteString PrefixEnd(ByteString prefix)
    {
        var bytes = prefix.ToByteArray();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xff)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }
}

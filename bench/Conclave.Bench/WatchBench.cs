using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Conclave.Api.Etcd;
using Conclave.Client;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Bench;

/// <summary>
/// <c>conclave-bench watch</c>: W watchers on one prefix (spread over <c>--conns</c> client SDK instances, so this measures
/// the SDK's watch path too) while <c>--clients</c> loops put at <c>--rate</c>. Every value carries its send
/// timestamp, so each delivery yields a put-to-delivery latency; afterwards each watcher's count is compared
/// with the number of acknowledged puts to find lost events.
/// </summary>
internal static class WatchBench
{
    private const byte Marker = 0xB7;
    private const int StampSize = 9;

    public static async Task<string> RunAsync(
        BenchSettings settings,
        int watchers,
        string prefix,
        int rate,
        long keySpace,
        TimeSpan drainTimeout,
        int? serverPid,
        CancellationToken cancellationToken)
    {
        // A sub-prefix per run keeps other writers (and earlier runs) out of the counts.
        var runPrefix = $"{prefix}{Guid.NewGuid():N}/";
        var keys = BenchKeys.Create(runPrefix, keySpace, settings.KeySize);
        var valueSize = Math.Max(settings.ValueSize, StampSize);

        var clients = new ConclaveClient[settings.Conns];
        for (var i = 0; i < clients.Length; i++)
        {
            // Rotate the endpoint list so the watch streams spread over the members.
            var rotated = new string[settings.Endpoints.Count];
            for (var e = 0; e < rotated.Length; e++)
            {
                rotated[e] = settings.Endpoints[(i + e) % rotated.Length];
            }

            clients[i] = new ConclaveClient(new ConclaveClientOptions { Endpoints = rotated, WatchBufferCapacity = 1024 });
        }

        using var connections = new BenchConnections(settings);
        using var stopWatchers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var start = (await clients[0].GetAsync(runPrefix, new GetOptions { Prefix = true, CountOnly = true }, cancellationToken)).Revision + 1;
            var received = new long[watchers];
            var duplicates = new long[watchers];
            var recorders = new LatencyRecorder[watchers];
            var watchErrors = new ConcurrentBag<Exception>();
            var tasks = new Task[watchers];
            var expectedPerWatcher = settings.Duration is null ? (int)Math.Min(settings.Total + 1, 1 << 22) : 1 << 16;
            for (var w = 0; w < watchers; w++)
            {
                var id = w;
                recorders[id] = new LatencyRecorder(expectedPerWatcher);
                tasks[id] = Task.Run(() => WatchAsync(clients[id % clients.Length], runPrefix, start, recorders[id], received, duplicates, id, watchErrors, stopWatchers.Token), CancellationToken.None);
            }

            // One unstamped put every watcher must see: proves all watches are live before the clock starts.
            await connections.Kv[0].PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(runPrefix + "sync"), Value = ByteString.CopyFromUtf8("sync") }, cancellationToken: cancellationToken);
            if (!await WaitForAsync(received, 1, TimeSpan.FromSeconds(30), cancellationToken))
            {
                throw new InvalidOperationException($"Not every watcher saw the start marker within 30 s ({watchErrors.Count} watch error(s){(watchErrors.TryPeek(out var first) ? ": " + first.Message : string.Empty)}).");
            }

            // Every watcher is attached now: this is the server's footprint for W watchers.
            var serverRss = ProcessUsage.Sample(serverPid)?.RssKb;
            var kv = connections.Kv;
            var puts = await ClosedLoop.RunAsync(
                settings,
                (client, i, ct) =>
                {
                    var value = new byte[valueSize];
                    value[0] = Marker;
                    BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(1), Stopwatch.GetTimestamp());
                    var request = new PutRequest { Key = keys[i % keys.Length], Value = UnsafeByteOperations.UnsafeWrap(value) };
                    return kv[client % kv.Length].PutAsync(request, cancellationToken: ct).ResponseAsync;
                },
                cancellationToken,
                rate > 0 ? new Pacer(rate, settings.Clients) : null);

            // Events for acknowledged puts may still be in flight: give them a bounded time to arrive.
            var expected = puts.Succeeded + 1;
            await WaitForAsync(received, expected, drainTimeout, CancellationToken.None);
            await stopWatchers.CancelAsync();
            await Task.WhenAll(tasks);

            long total = 0, lost = 0, dup = 0;
            var withLoss = 0;
            for (var w = 0; w < watchers; w++)
            {
                total += received[w];
                dup += duplicates[w];
                var missing = Math.Max(0, expected - received[w]);
                lost += missing;
                withLoss += missing > 0 ? 1 : 0;
            }

            var result = new WatchBenchResult(
                watchers,
                rate,
                puts,
                expected * watchers,
                total,
                lost,
                withLoss,
                dup,
                watchErrors.Count,
                LatencyRecorder.Summarize(recorders),
                serverRss);
            var report = BenchReport.Watch(settings, result);
            foreach (var error in watchErrors.Take(3))
            {
                report += $"  Watch error: {error.Message}\n";
            }

            // Leave nothing behind: the run's keys are this bench's own.
            await connections.Kv[0].DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(runPrefix), RangeEnd = ByteString.CopyFromUtf8(runPrefix[..^1] + "0") }, cancellationToken: CancellationToken.None);
            return report;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task WatchAsync(
        ConclaveClient client,
        string prefix,
        long start,
        LatencyRecorder recorder,
        long[] received,
        long[] duplicates,
        int id,
        ConcurrentBag<Exception> errors,
        CancellationToken cancellationToken)
    {
        long last = 0;
        try
        {
            await foreach (var e in client.WatchAsync(prefix, new WatchOptions { Prefix = true, StartRevision = start }, cancellationToken))
            {
                var now = Stopwatch.GetTimestamp();
                var value = e.Entry.Value.Span;
                if (value.Length >= StampSize && value[0] == Marker)
                {
                    recorder.Record(now - BinaryPrimitives.ReadInt64LittleEndian(value[1..]));
                }

                if (e.Revision <= last)
                {
                    duplicates[id]++;
                }

                last = e.Revision;
                Volatile.Write(ref received[id], received[id] + 1);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is ConclaveException or RpcException)
        {
            errors.Add(e);
        }
    }

    private static async Task<bool> WaitForAsync(long[] received, long target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var done = true;
            for (var w = 0; w < received.Length; w++)
            {
                if (Volatile.Read(ref received[w]) < target)
                {
                    done = false;
                    break;
                }
            }

            if (done)
            {
                return true;
            }

            await Task.Delay(5, cancellationToken);
        }

        return false;
    }
}

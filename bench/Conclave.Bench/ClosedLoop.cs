using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;

namespace Conclave.Bench;

/// <summary>Drives <c>--clients</c> concurrent request loops until <c>--total</c> requests or <c>--duration</c>.</summary>
internal static class ClosedLoop
{
    /// <param name="settings">Clients, total or duration.</param>
    /// <param name="send">Sends request number <c>i</c> for client <c>client</c>; must not allocate a closure per call.</param>
    /// <param name="cancellationToken">Stops early (Ctrl-C); the figures so far are still reported.</param>
    /// <param name="pacer">Spaces the requests to a fixed rate; the wait is not counted as latency.</param>
    public static async Task<ClosedLoopResult> RunAsync(BenchSettings settings, Func<int, long, CancellationToken, Task> send, CancellationToken cancellationToken, Pacer? pacer = null)
    {
        var recorders = new LatencyRecorder[settings.Clients];
        var errorKinds = new ConcurrentDictionary<string, long>();
        long next = -1;
        long errors = 0;
        var serverBefore = ProcessUsage.Sample(settings.ServerPid);
        var start = Stopwatch.GetTimestamp();
        var startUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var deadline = settings.Duration is { } d ? start + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;

        async Task WorkerAsync(int client)
        {
            var recorder = recorders[client] = new LatencyRecorder(settings.ExpectedPerClient, withEnds: settings.LatencyLog is not null);
            long local = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                long i;
                if (settings.Duration is null)
                {
                    i = Interlocked.Increment(ref next);
                    if (i >= settings.Total)
                    {
                        return;
                    }
                }
                else
                {
                    if (Stopwatch.GetTimestamp() >= deadline)
                    {
                        return;
                    }

                    i = (local++ * settings.Clients) + client;
                }

                try
                {
                    if (pacer is not null)
                    {
                        await pacer.WaitAsync(client, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                var sent = Stopwatch.GetTimestamp();
                try
                {
                    await send(client, i, cancellationToken).ConfigureAwait(false);
                    var done = Stopwatch.GetTimestamp();
                    recorder.Record(done - sent, done);
                }
                catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    errorKinds.AddOrUpdate($"{e.StatusCode}: {e.Status.Detail}", 1, static (_, n) => n + 1);
                }
                catch (RpcException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        var workers = new Task[settings.Clients];
        for (var c = 0; c < workers.Length; c++)
        {
            var client = c;
            workers[c] = Task.Run(() => WorkerAsync(client), CancellationToken.None);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var serverAfter = ProcessUsage.Sample(settings.ServerPid);
        var latency = LatencyRecorder.Summarize(recorders);
        if (settings.LatencyLog is { } log)
        {
            LatencyRecorder.WriteLog(log, recorders, start, startUnix);
        }

        return new ClosedLoopResult(latency.Count, errors, elapsed, latency, errorKinds)
        {
            ServerCpuSeconds = serverBefore is null || serverAfter is null ? null : serverAfter.CpuSeconds - serverBefore.CpuSeconds,
        };
    }
}

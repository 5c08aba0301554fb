using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Conclave.Api.Etcd;
using Conclave.Api.Lock;
using Google.Protobuf;
using Grpc.Core;

namespace Conclave.Bench;

/// <summary>
/// <c>conclave-bench lock</c>: C contenders, each with its own lease, acquire and release locks on N names (contender i
/// uses name i mod N) through etcd's Lock service (v3lockpb), so it runs against etcd too. Measures completed
/// acquire/release cycles per second and the acquire latency (queueing included).
/// </summary>
internal static class LockBench
{
    private static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

    public static Command Create(Option<string> endpoints, Option<string?> duration, Option<bool> json)
    {
        var contenders = new Option<int>("--contenders") { Description = "Concurrent contenders, each with its own lease.", DefaultValueFactory = _ => 16 };
        var names = new Option<int>("--names") { Description = "Distinct lock names; contender i uses name i mod --names (1: everyone contends for one lock).", DefaultValueFactory = _ => 16 };
        var serverPid = new Option<int?>("--server-pid") { Description = "A local server process whose CPU use and resident memory are reported." };
        var command = new Command("lock", "Lock acquire/release cycles per second through the Lock service (works against etcd too).") { contenders, names, serverPid };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var c = parse.GetValue(contenders);
                var n = parse.GetValue(names);
                if (c < 1 || n < 1)
                {
                    throw new ArgumentException("--contenders and --names must be at least 1.");
                }

                var endpoint = BenchEndpoints.Parse(parse.GetValue(endpoints))[0];
                var length = BenchCommand.ParseDuration(parse.GetValue(duration)) ?? DefaultDuration;
                var report = await RunAsync(endpoint, c, n, length, parse.GetValue(serverPid), parse.GetValue(json), cancellationToken);
                await parse.InvocationConfiguration.Output.WriteAsync(report);
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return BenchExit.Canceled;
            }
            catch (Exception e) when (e is RpcException or ArgumentException or InvalidOperationException)
            {
                await stderr.WriteLineAsync($"Error: {e.Message}");
                return BenchExit.Failure;
            }
        });
        return command;
    }

    private static async Task<string> RunAsync(string endpoint, int contenders, int names, TimeSpan duration, int? serverPid, bool json, CancellationToken cancellationToken)
    {
        using var channel = BenchGrpc.Channel(endpoint);
        var leases = new Lease.LeaseClient(channel);
        var locks = new Api.Lock.Lock.LockClient(channel);
        var prefix = $"/bench/lock/{Guid.NewGuid():N}/";
        var lockNames = Enumerable.Range(0, names).Select(i => ByteString.CopyFromUtf8($"{prefix}{i:D4}")).ToArray();

        // No keep-alives during the run: the TTL outlasts it.
        var ttl = (long)Math.Max(60, (duration.TotalSeconds * 2) + 30);
        var ids = new long[contenders];
        await BenchGrpc.ForEachAsync(Enumerable.Range(0, contenders), 16, async (i, ct) =>
            ids[i] = (await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttl }, cancellationToken: ct)).ID, cancellationToken);

        var acquire = new List<long>[contenders];
        var cycles = new long[contenders];
        var errors = new ConcurrentDictionary<string, long>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var before = ProcessUsage.Sample(serverPid);
        var clock = Stopwatch.StartNew();
        stop.CancelAfter(duration);
        var workers = Enumerable.Range(0, contenders).Select(i => Task.Run(async () =>
        {
            acquire[i] = new List<long>(4096);
            var request = new LockRequest { Name = lockNames[i % names], Lease = ids[i] };
            while (!stop.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    var held = await locks.LockAsync(request, cancellationToken: stop.Token);
                    var acquired = Stopwatch.GetTimestamp();

                    // Always release, even past the deadline: a held lock would stall the others' shutdown.
                    await locks.UnlockAsync(new UnlockRequest { Key = held.Key }, cancellationToken: CancellationToken.None);
                    if (!stop.IsCancellationRequested)
                    {
                        acquire[i].Add(acquired - start);
                        cycles[i]++;
                    }
                }
                catch (RpcException) when (stop.IsCancellationRequested)
                {
                    // A wait cut short by the end of the run.
                }
                catch (RpcException e)
                {
                    errors.AddOrUpdate($"{e.StatusCode}: {e.Status.Detail}", 1, (_, n) => n + 1);
                }
            }
        }, CancellationToken.None)).ToArray();
        await Task.WhenAll(workers);
        var elapsed = clock.Elapsed;
        var after = ProcessUsage.Sample(serverPid);

        // Leave nothing behind.
        await BenchGrpc.ForEachAsync(ids, 16, async (id, ct) =>
        {
            try
            {
                await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = id }, cancellationToken: ct);
            }
            catch (RpcException)
            {
            }
        }, CancellationToken.None);

        var total = cycles.Sum();
        var latency = LatencySummary.From([.. acquire.SelectMany(a => a)]);
        var perName = names == 1 ? "1 name" : $"{names} names";
        var cpu = ProcessUsage.CpuPercent(before, after, elapsed);
        if (json)
        {
            return BenchJson.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("bench", "lock");
                w.WriteNumber("contenders", contenders);
                w.WriteNumber("names", names);
                w.WriteNumber("cycles", total);
                w.WriteNumber("errors", errors.Values.Sum());
                w.WriteNumber("duration_s", Math.Round(elapsed.TotalSeconds, 3));
                w.WriteNumber("cycles_per_s", Math.Round(total / elapsed.TotalSeconds, 1));
                w.WriteNumber("min_cycles_per_contender", cycles.Min());
                w.WriteNumber("max_cycles_per_contender", cycles.Max());
                w.WriteStartObject("acquire_latency_ms");
                w.WriteNumber("p50", Math.Round(latency.P50, 3));
                w.WriteNumber("p90", Math.Round(latency.P90, 3));
                w.WriteNumber("p99", Math.Round(latency.P99, 3));
                w.WriteNumber("max", Math.Round(latency.Max, 3));
                w.WriteEndObject();
                if (cpu is { } c)
                {
                    w.WriteNumber("server_cpu_percent", Math.Round(c, 1));
                    w.WriteNumber("server_rss_kb", after!.RssKb);
                }

                w.WriteEndObject();
            }) + "\n";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench lock: {contenders} contender(s) on {perName}, {elapsed.TotalSeconds:0.0} s, {endpoint}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Cycles:      {total} ({total / elapsed.TotalSeconds:0.0}/s acquire+release)\n");
        text.Append(CultureInfo.InvariantCulture, $"  Fairness:    {cycles.Min()} to {cycles.Max()} cycles per contender\n");
        text.Append(CultureInfo.InvariantCulture, $"  Errors:      {errors.Values.Sum()}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Acquire ms:  p50 {latency.P50:0.000}  p90 {latency.P90:0.000}  p99 {latency.P99:0.000}  max {latency.Max:0.000}\n");
        if (cpu is { } percent)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Server:      CPU {percent:0.0}% of one core, RSS {after!.RssKb / 1024.0:0.0} MiB\n");
        }

        foreach (var (kind, count) in errors)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Error x{count}: {kind}\n");
        }

        return text.ToString();
    }
}

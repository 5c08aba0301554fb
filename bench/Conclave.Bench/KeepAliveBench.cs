using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Conclave.Api.Etcd;
using Grpc.Core;

namespace Conclave.Bench;

/// <summary>
/// <c>conclave-bench keepalive</c>: one client keeps L leases alive over one LeaseKeepAlive stream (or <c>--streams</c>),
/// renewing them round-robin with up to <c>--window</c> renewals in flight. Measures renewals per second, leases
/// the server reported gone (TTL 0: must stay zero), and, with <c>--server-pid</c>, the server's CPU and memory.
/// </summary>
internal static class KeepAliveBench
{
    private static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

    public static Command Create(Option<string> endpoints, Option<string?> duration, Option<bool> json)
    {
        var leases = new Option<int>("--leases") { Description = "Leases to grant and keep alive.", DefaultValueFactory = _ => 10_000 };
        var window = new Option<int>("--window") { Description = "Renewals in flight per stream.", DefaultValueFactory = _ => 1000 };
        var streams = new Option<int>("--streams") { Description = "Keep-alive streams (the leases are split among them).", DefaultValueFactory = _ => 1 };
        var ttl = new Option<long>("--ttl") { Description = "TTL of the leases, in seconds.", DefaultValueFactory = _ => 30 };
        var serverPid = new Option<int?>("--server-pid") { Description = "A local server process whose CPU use and resident memory are reported." };
        var command = new Command("keepalive", "Keep-alive throughput: one client renewing many leases, with the server's CPU and memory.") { leases, window, streams, ttl, serverPid };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var settings = new Settings(
                    BenchEndpoints.Parse(parse.GetValue(endpoints))[0],
                    parse.GetValue(leases),
                    parse.GetValue(window),
                    parse.GetValue(streams),
                    parse.GetValue(ttl),
                    BenchCommand.ParseDuration(parse.GetValue(duration)) ?? DefaultDuration,
                    parse.GetValue(serverPid));
                if (settings.Leases < 1 || settings.Window < 1 || settings.Streams < 1 || settings.Streams > settings.Leases || settings.Ttl < 2)
                {
                    throw new ArgumentException("--leases, --window and --streams must be at least 1 (--streams at most --leases), --ttl at least 2.");
                }

                await parse.InvocationConfiguration.Output.WriteAsync(await RunAsync(settings, parse.GetValue(json), cancellationToken));
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

    private static async Task<string> RunAsync(Settings settings, bool json, CancellationToken cancellationToken)
    {
        using var channel = BenchGrpc.Channel(settings.Endpoint);
        var client = new Lease.LeaseClient(channel);
        var ids = new long[settings.Leases];
        var grantClock = Stopwatch.StartNew();
        await BenchGrpc.ForEachAsync(Enumerable.Range(0, ids.Length), 64, async (i, ct) =>
            ids[i] = (await client.LeaseGrantAsync(new LeaseGrantRequest { TTL = settings.Ttl }, cancellationToken: ct)).ID, cancellationToken);
        var grantTime = grantClock.Elapsed;
        var afterGrant = ProcessUsage.Sample(settings.ServerPid);

        var renewed = new long[settings.Streams];
        var gone = new long[settings.Streams];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var before = ProcessUsage.Sample(settings.ServerPid);
        var clock = Stopwatch.StartNew();
        stop.CancelAfter(settings.Duration);
        var runs = Enumerable.Range(0, settings.Streams)
            .Select(s => Task.Run(() => StreamAsync(client, ids.Where((_, i) => i % settings.Streams == s).ToArray(), settings.Window, renewed, gone, s, stop.Token), CancellationToken.None))
            .ToArray();
        await Task.WhenAll(runs);
        var elapsed = clock.Elapsed;
        var after = ProcessUsage.Sample(settings.ServerPid);

        await BenchGrpc.ForEachAsync(ids, 64, async (id, ct) =>
        {
            try
            {
                await client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = id }, cancellationToken: ct);
            }
            catch (RpcException)
            {
            }
        }, CancellationToken.None);

        var total = renewed.Sum();
        var lost = gone.Sum();
        var cpu = ProcessUsage.CpuPercent(before, after, elapsed);
        if (json)
        {
            return BenchJson.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("bench", "keepalive");
                w.WriteNumber("leases", settings.Leases);
                w.WriteNumber("streams", settings.Streams);
                w.WriteNumber("window", settings.Window);
                w.WriteNumber("grant_s", Math.Round(grantTime.TotalSeconds, 3));
                w.WriteNumber("keepalives", total);
                w.WriteNumber("duration_s", Math.Round(elapsed.TotalSeconds, 3));
                w.WriteNumber("keepalives_per_s", Math.Round(total / elapsed.TotalSeconds, 1));
                w.WriteNumber("leases_gone", lost);
                if (cpu is { } c)
                {
                    w.WriteNumber("server_cpu_percent", Math.Round(c, 1));
                    w.WriteNumber("server_rss_kb", after!.RssKb);
                    w.WriteNumber("server_rss_after_grant_kb", afterGrant!.RssKb);
                    w.WriteNumber("server_peak_rss_kb", after.PeakRssKb);
                }

                w.WriteEndObject();
            }) + "\n";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench keepalive: {settings.Leases} leases (TTL {settings.Ttl} s) over {settings.Streams} stream(s), {settings.Window} in flight each, {elapsed.TotalSeconds:0.0} s, {settings.Endpoint}\n");
        text.Append(CultureInfo.InvariantCulture, $"  Granted in:  {grantTime.TotalSeconds:0.000} s ({settings.Leases / grantTime.TotalSeconds:0.0}/s)\n");
        text.Append(CultureInfo.InvariantCulture, $"  Keepalives:  {total} ({total / elapsed.TotalSeconds:0.0}/s, every lease renewed ~{(double)total / settings.Leases:0.0} times)\n");
        text.Append(CultureInfo.InvariantCulture, $"  Leases gone: {lost}\n");
        if (cpu is { } percent)
        {
            text.Append(CultureInfo.InvariantCulture, $"  Server:      CPU {percent:0.0}% of one core while renewing; RSS {after!.RssKb / 1024.0:0.0} MiB (after granting {afterGrant!.RssKb / 1024.0:0.0} MiB, peak {after.PeakRssKb / 1024.0:0.0} MiB)\n");
        }

        return text.ToString();
    }

    /// <summary>Renews <paramref name="ids"/> round-robin on one stream with at most <paramref name="window"/> renewals unanswered.</summary>
    private static async Task StreamAsync(Lease.LeaseClient client, long[] ids, int window, long[] renewed, long[] gone, int slot, CancellationToken stop)
    {
        using var call = client.LeaseKeepAlive();
        using var inFlight = new SemaphoreSlim(window, window);
        var reader = Task.Run(async () =>
        {
            try
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        gone[slot]++;
                    }
                    else if (!stop.IsCancellationRequested)
                    {
                        renewed[slot]++;
                    }

                    inFlight.Release();
                }
            }
            catch (RpcException) when (stop.IsCancellationRequested)
            {
            }
        }, CancellationToken.None);

        var next = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await inFlight.WaitAsync(stop);

                // No token on the write itself: cancelling a write cancels the whole call, answers in flight included.
                await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = ids[next] });
                next = (next + 1) % ids.Length;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        // Let the renewals in flight come back, then close the stream.
        await call.RequestStream.CompleteAsync();
        try
        {
            await reader.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            // The server kept the stream open: the figures are complete anyway.
        }
    }

    private sealed record Settings(string Endpoint, int Leases, int Window, int Streams, long Ttl, TimeSpan Duration, int? ServerPid);
}

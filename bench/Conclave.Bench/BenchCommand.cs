using System.CommandLine;
using System.Globalization;
using Conclave.Client;

namespace Conclave.Bench;

/// <summary>
/// <c>conclave-bench put|range|watch|lock|keepalive</c>: load generators that speak plain etcd v3 gRPC, so they measure a
/// Conclave cluster and a real etcd alike; <c>conclave-bench config</c> measures the configuration center (Conclave only).
/// </summary>
internal static class BenchCommand
{
    public static RootCommand Create()
    {
        var endpoints = new Option<string>("--endpoints") { Description = "Comma-separated client URLs.", DefaultValueFactory = _ => BenchEndpoints.Default, Recursive = true };
        var conns = new Option<int>("--conns") { Description = "Number of gRPC connections (channels).", DefaultValueFactory = _ => 1, Recursive = true };
        var clients = new Option<int>("--clients") { Description = "Number of concurrent request loops, sharing the connections round-robin.", DefaultValueFactory = _ => 1, Recursive = true };
        var total = new Option<long?>("--total") { Description = "Number of requests: default 10000 (watch: puts, default 1000); ignored with --duration.", Recursive = true };
        var duration = new Option<string?>("--duration") { Description = "Run for this long instead of --total, e.g. 10s, 500ms, 2m.", Recursive = true };
        var keySize = new Option<int>("--key-size") { Description = "Key size in bytes.", DefaultValueFactory = _ => 8, Recursive = true };
        var valSize = new Option<int>("--val-size") { Description = "Value size in bytes.", DefaultValueFactory = _ => 8, Recursive = true };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object.", Recursive = true };
        var transport = new Option<string>("--transport") { Description = "lean: the bench's own minimal HTTP/2 client, cheap on CPU (unary and server-streaming calls; https endpoints use grpc unless --cacert is given); grpc: grpc-dotnet.", DefaultValueFactory = _ => "lean", Recursive = true };
        transport.AcceptOnlyFromAmong("lean", "grpc");

        var bench = new RootCommand("Benchmark a cluster (Conclave or etcd) over the etcd v3 gRPC API. Not part of the product: see docs/benchmarks.md.")
        {
            endpoints, conns, clients, total, duration, keySize, valSize, json, transport,
        };

        BenchSettings Settings(ParseResult parse)
        {
            // Watch runs are rate-limited: 10000 puts would take 100 s at the default 100/s.
            var defaultTotal = parse.CommandResult.Command.Name == "watch" ? 1000 : 10_000;
            var settings = new BenchSettings(
                BenchEndpoints.Parse(parse.GetValue(endpoints)),
                parse.GetValue(conns),
                parse.GetValue(clients),
                parse.GetValue(total) ?? defaultTotal,
                ParseDuration(parse.GetValue(duration)),
                parse.GetValue(keySize),
                parse.GetValue(valSize),
                parse.GetValue(json))
            {
                Transport = parse.GetValue(transport) == "grpc" ? BenchTransport.Grpc : BenchTransport.Lean,
            };
            if (settings.Conns < 1 || settings.Clients < 1)
            {
                throw new ArgumentException("--conns and --clients must be at least 1.");
            }

            if (settings.Duration is null && settings.Total < 1)
            {
                throw new ArgumentException("--total must be at least 1 (or give --duration).");
            }

            if (settings.KeySize < 1 || settings.ValueSize < 0)
            {
                throw new ArgumentException("--key-size must be at least 1 and --val-size not negative.");
            }

            return settings;
        }

        // put and range only (the closed loops over unary calls): TLS, auth and the server's CPU over the loop. Watch has
        // its own --server-pid (memory with every watcher attached).
        var caCert = new Option<string?>("--cacert") { Description = "TLS: trust servers whose certificate chains to this CA (PEM); bare host:port endpoints become https." };
        var cert = new Option<string?>("--cert") { Description = "TLS client certificate (PEM), with --cert-key." };
        // Not etcdctl's --key: range's --key names the key it reads.
        var certKey = new Option<string?>("--cert-key") { Description = "Private key (PEM) of --cert (etcdctl's --key)." };
        var user = new Option<string?>("--user") { Description = "name:password; each connection authenticates once, then sends the token with every request." };
        var loopServerPid = new Option<int?>("--server-pid") { Description = "A local server process whose CPU time during the measured loop is reported per request." };
        var latencyLog = new Option<string?>("--latency-log") { Description = "Write each completed request's completion time (unix seconds) and latency (ms) to this file, one per line." };
        Option[] loopOptions = [caCert, cert, certKey, user, loopServerPid, latencyLog];

        BenchSettings LoopSettings(ParseResult parse)
        {
            var settings = Settings(parse) with
            {
                Tls = TlsOf(parse, caCert, cert, certKey),
                Credentials = parse.GetValue(user) is { } credentials ? BenchCredentials.Parse(credentials) : null,
                ServerPid = parse.GetValue(loopServerPid),
                LatencyLog = parse.GetValue(latencyLog),
            };
            if (settings.Tls is not null && settings.Endpoints.FirstOrDefault(e => e.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) is { } plain)
            {
                throw new ArgumentException($"--cacert/--cert/--cert-key mean TLS toward every endpoint, but {plain} is http://.");
            }

            return settings;
        }

        var keySpace = new Option<long>("--key-space-size") { Description = "Number of distinct keys written.", DefaultValueFactory = _ => 1 };
        var sequential = new Option<bool>("--sequential-keys") { Description = "Write keys in order instead of at random." };
        var put = new Command("put", "Closed-loop puts of --val-size values over --key-space-size keys.") { keySpace, sequential };
        AddAll(put, loopOptions);
        SetBenchAction(put, LoopSettings, async (parse, settings, ct) =>
        {
            var space = parse.GetValue(keySpace);
            if (space < 1 || space > BenchKeys.MaxKeySpace)
            {
                throw new ArgumentException($"--key-space-size must be between 1 and {BenchKeys.MaxKeySpace}.");
            }

            return await PutBench.RunAsync(settings, space, parse.GetValue(sequential), ct);
        });

        var rangeKey = new Option<string>("--key") { Description = "Key to read.", DefaultValueFactory = _ => "foo" };
        var prefix = new Option<bool>("--prefix") { Description = "Read every key with --key as prefix." };
        var consistency = new Option<string>("--consistency") { Description = "l: linearizable, s: serializable.", DefaultValueFactory = _ => "l" };
        consistency.AcceptOnlyFromAmong("l", "s");
        var range = new Command("range", "Closed-loop reads of --key.") { rangeKey, prefix, consistency };
        AddAll(range, loopOptions);
        SetBenchAction(range, LoopSettings, (parse, settings, ct) =>
            RangeBench.RunAsync(settings, parse.GetRequiredValue(rangeKey), parse.GetValue(prefix), parse.GetValue(consistency) == "s", ct));

        var watchers = new Option<int>("--watchers") { Description = "Number of watchers on the prefix.", DefaultValueFactory = _ => 10 };
        var watchPrefix = new Option<string>("--prefix") { Description = "Prefix the watchers watch and the puts write under (each run uses a fresh sub-prefix).", DefaultValueFactory = _ => "/bench/watch/" };
        var rate = new Option<int>("--rate") { Description = "Puts per second across all --clients; 0 for as fast as possible.", DefaultValueFactory = _ => 100 };
        var watchKeySpace = new Option<long>("--key-space-size") { Description = "Number of distinct keys written under the prefix.", DefaultValueFactory = _ => 100 };
        var drain = new Option<double>("--drain-timeout") { Description = "Seconds to wait after the last put for outstanding events before counting them lost.", DefaultValueFactory = _ => 10 };
        var serverPid = new Option<int?>("--server-pid") { Description = "A local server process whose resident memory is reported once every watcher is attached." };
        var watch = new Command("watch", "Watchers on a prefix while puts run at --rate: put-to-delivery latency and lost events.") { watchers, watchPrefix, rate, watchKeySpace, drain, serverPid };
        SetBenchAction(watch, Settings, async (parse, settings, ct) =>
        {
            var count = parse.GetValue(watchers);
            var perSecond = parse.GetValue(rate);
            var space = parse.GetValue(watchKeySpace);
            var drainSeconds = parse.GetValue(drain);
            if (count < 1 || perSecond < 0 || space < 1 || space > BenchKeys.MaxKeySpace || drainSeconds < 0)
            {
                throw new ArgumentException($"--watchers must be at least 1, --rate not negative, --key-space-size between 1 and {BenchKeys.MaxKeySpace}, --drain-timeout not negative.");
            }

            return await WatchBench.RunAsync(settings, count, parse.GetRequiredValue(watchPrefix), perSecond, space, TimeSpan.FromSeconds(drainSeconds), parse.GetValue(serverPid), ct);
        });

        bench.Subcommands.Add(put);
        bench.Subcommands.Add(range);
        bench.Subcommands.Add(watch);
        bench.Subcommands.Add(LockBench.Create(endpoints, duration, json));
        bench.Subcommands.Add(KeepAliveBench.Create(endpoints, duration, json));
        bench.Subcommands.Add(ConfigBench.Create(Settings));
        return bench;
    }

    private static void SetBenchAction(
        Command command,
        Func<ParseResult, BenchSettings> settingsOf,
        Func<ParseResult, BenchSettings, CancellationToken, Task<string>> run)
    {
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var settings = settingsOf(parse);
                await PreflightAsync(settings, cancellationToken);
                var report = await run(parse, settings, cancellationToken);
                await parse.InvocationConfiguration.Output.WriteAsync(report);
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return BenchExit.Canceled;
            }
            catch (Exception e) when (e is ConclaveException or ArgumentException or FormatException or InvalidOperationException)
            {
                await stderr.WriteLineAsync($"Error: {BenchExit.Describe(e)}");
                return BenchExit.Failure;
            }
        });
    }

    /// <summary>Fails fast with one clear line when an endpoint is unreachable, instead of a run full of errors.</summary>
    private static async Task PreflightAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        // On the lean transport, check with it: starting grpc-dotnet only for this costs a run ~0.3 s of client CPU.
        if (settings.Transport == BenchTransport.Lean && await BenchConnections.TryCheckReachableAsync(settings.Endpoints, settings.Tls, cancellationToken))
        {
            return;
        }

        await using var client = new ConclaveClient(new ConclaveClientOptions
        {
            Endpoints = settings.Tls is null ? settings.Endpoints : [.. settings.Endpoints.Select(e => BenchConnections.Url(e, tls: true))],
            MaxAttempts = 1,
            DialTimeout = TimeSpan.FromSeconds(3),
            RequestTimeout = TimeSpan.FromSeconds(5),
            CaFile = settings.Tls?.CaFile,
            CertFile = settings.Tls?.CertFile,
            KeyFile = settings.Tls?.KeyFile,
        });
        foreach (var endpoint in client.Endpoints)
        {
            await client.StatusAsync(endpoint, cancellationToken);
        }
    }

    private static void AddAll(Command command, Option[] options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>TLS settings when any of <c>--cacert</c>, <c>--cert</c>, <c>--cert-key</c> is given; null for cleartext.</summary>
    private static BenchTls? TlsOf(ParseResult parse, Option<string?> caCert, Option<string?> cert, Option<string?> certKey)
    {
        var (caFile, certFile, keyFile) = (parse.GetValue(caCert), parse.GetValue(cert), parse.GetValue(certKey));
        return caFile is null && certFile is null && keyFile is null ? null : BenchTls.Load(caFile, certFile, keyFile);
    }

    internal static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        var (number, scale) = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw new ArgumentException($"--duration must be a positive duration such as 10s, 500ms or 2m, got '{text}'.");
        }

        return TimeSpan.FromSeconds(value * scale);
    }
}

using System.Diagnostics;
using System.Net.Http.Json;
using Conclave.Client;
using Conclave.Extensions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;

// Benchmarks of the Conclave IConfiguration provider (figures, not assertions; see docs/configuration-provider.md).
//   fanout:    N providers in this process over C client connections; publish R releases; publish -> reload latency.
//   coldstart: start an app (e.g. the Orders sample) R times and time process start -> first 200 on a URL.
var mode = args.Length > 0 ? args[0] : "fanout";
var options = Args.Parse(args.Skip(1));
return mode switch
{
    "fanout" => await Fanout.RunAsync(options),
    "coldstart" => await ColdStart.RunAsync(options),
    "flags" => await FlagEvaluations.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage:
          Conclave.Bench.Provider fanout [--endpoint http://127.0.0.1:2379] [--http http://127.0.0.1:2381] [--providers 1000] [--clients 32] [--releases 20] [--report true]
          Conclave.Bench.Provider flags [--endpoint http://127.0.0.1:2379] [--http http://127.0.0.1:2381] [--rounds 5] [--evaluations 2000000]
          Conclave.Bench.Provider coldstart --run "dotnet samples/Orders/bin/Release/net10.0/Orders.dll" --url http://127.0.0.1:5080/ [--runs 5] [--cwd DIR]
        """);
    return 2;
}

internal static class Args
{
    public static Dictionary<string, string> Parse(IEnumerable<string> args)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? key = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                key = arg[2..];
                result[key] = "true";
            }
            else if (key is not null)
            {
                result[key] = arg;
                key = null;
            }
        }

        return result;
    }

    public static string Get(this Dictionary<string, string> args, string key, string fallback) => args.TryGetValue(key, out var v) ? v : fallback;

    public static int Int(this Dictionary<string, string> args, string key, int fallback) => args.TryGetValue(key, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

internal static class Stats
{
    public static string Describe(List<double> ms)
    {
        ms.Sort();
        double At(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        return $"n={ms.Count} p50={At(0.50):F1} ms p99={At(0.99):F1} ms max={ms[^1]:F1} ms";
    }
}

internal static class Fanout
{
    public static async Task<int> RunAsync(Dictionary<string, string> args)
    {
        var endpoint = args.Get("endpoint", "http://127.0.0.1:2379");
        var httpUrl = args.Get("http", "http://127.0.0.1:2381");
        var providers = args.Int("providers", 1000);
        var clientCount = args.Int("clients", 32);
        var releases = args.Int("releases", 20);
        var report = bool.Parse(args.Get("report", "true"));
        var app = "bench-" + Guid.NewGuid().ToString("N")[..8];
        using var http = new HttpClient { BaseAddress = new Uri(httpUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "bench");
        await PostAsync(http, "/api/v1/apps", new { id = app });
        await PostAsync(http, $"/api/v1/apps/{app}/envs", new { name = "PRO" });
        var ns = $"/api/v1/apps/{app}/envs/PRO/namespaces";
        await PostAsync(http, ns, new { name = "application", format = "properties" });
        await PublishAsync(http, ns, 0);

        var clients = Enumerable.Range(0, clientCount).Select(i => new ConclaveClient(new ConclaveClientOptions { Endpoints = [endpoint], InstanceId = $"bench-client-{i}" })).ToArray();
        foreach (var client in clients)
        {
            await client.StatusAsync();
        }

        var before = Memory();
        var roots = new IConfigurationRoot[providers];
        var seen = new long[providers];
        var expected = 0L;
        var sent = 0L;
        var latencies = new List<double>();
        var pending = 0;
        var allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var build = Stopwatch.StartNew();
        for (var i = 0; i < providers; i++)
        {
            var index = i;
            roots[i] = new ConfigurationBuilder().AddConclave(o =>
            {
                o.Client = clients[index % clientCount];
                o.App = app;
                o.Environment = "PRO";
                o.InstanceId = $"bench-{index}";
                o.ReportDelivery = report;
            }).Build();
            ChangeToken.OnChange(roots[i].GetReloadToken, () =>
            {
                var now = Stopwatch.GetTimestamp();
                if (long.TryParse(roots[index]["Bench:Seq"], out var seq) && seq == Volatile.Read(ref expected) && Interlocked.Exchange(ref seen[index], seq) != seq)
                {
                    lock (latencies)
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(Volatile.Read(ref sent), now).TotalMilliseconds);
                    }

                    if (Interlocked.Decrement(ref pending) == 0)
                    {
                        allSeen.TrySetResult();
                    }
                }
            });
        }

        var loaded = build.Elapsed;
        var providerObjects = roots.Select(r => r.GetConclaveProviders().Single()).ToArray();
        while (providerObjects.Any(p => !p.Status.Connected))
        {
            await Task.Delay(50);
        }

        var subscribed = build.Elapsed;
        var after = Memory();
        Console.WriteLine($"providers={providers} clients={clientCount} report={report} load={loaded.TotalMilliseconds:F0} ms all-subscribed={subscribed.TotalMilliseconds:F0} ms");
        Console.WriteLine($"memory per subscribed provider: managed {(after.Managed - before.Managed) / (double)providers / 1024:F1} KiB, working set {(after.WorkingSet - before.WorkingSet) / (double)providers / 1024:F1} KiB");

        var serverPid = args.Int("server-pid", 0);
        var cpuBefore = (Self: Process.GetCurrentProcess().TotalProcessorTime, Server: ServerCpu(serverPid));
        for (var r = 1; r <= releases; r++)
        {
            allSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref pending, providers);
            Volatile.Write(ref expected, r);
            await SetItemAsync(http, ns, r);
            Volatile.Write(ref sent, Stopwatch.GetTimestamp());
            await PostAsync(http, $"{ns}/application/releases", new { title = $"r{r}" });
            var done = await Task.WhenAny(allSeen.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            if (done != allSeen.Task)
            {
                Console.WriteLine($"release {r}: only {providers - Volatile.Read(ref pending)} of {providers} providers saw it within 30 s");
                return 1;
            }

            // Let the delivery reports of this round (spread over ReportSpread, 1 s) settle so rounds do not overlap:
            // publishes are minutes apart in real life.
            await Task.Delay(report ? 1500 : 100);
        }

        Console.WriteLine($"publish -> reload (OnChange) over {releases} releases x {providers} providers: {Stats.Describe(latencies)}");
        var selfCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore.Self;
        var serverCpu = ServerCpu(serverPid) - cpuBefore.Server;
        Console.WriteLine($"cpu during the publish rounds: this process {selfCpu.TotalMilliseconds:F0} ms{(serverPid > 0 ? $", server (pid {serverPid}) {serverCpu.TotalMilliseconds:F0} ms" : "")}");
        foreach (var provider in providerObjects)
        {
            await provider.DisposeAsync();
        }

        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        return 0;
    }

    private static async Task PublishAsync(HttpClient http, string ns, long seq)
    {
        await SetItemAsync(http, ns, seq);
        await PostAsync(http, $"{ns}/application/releases", new { title = $"r{seq}" });
    }

    private static async Task SetItemAsync(HttpClient http, string ns, long seq)
    {
        using var put = await http.PutAsJsonAsync($"{ns}/application/items/Bench.Seq", new { value = seq.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        put.EnsureSuccessStatusCode();
    }

    private static async Task PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static TimeSpan ServerCpu(int pid)
    {
        if (pid <= 0)
        {
            return TimeSpan.Zero;
        }

        using var server = Process.GetProcessById(pid);
        return server.TotalProcessorTime;
    }

    private static (long Managed, long WorkingSet) Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), self.WorkingSet64);
    }
}

internal static class ColdStart
{
    public static async Task<int> RunAsync(Dictionary<string, string> args)
    {
        var run = args.Get("run", "");
        var url = args.Get("url", "http://127.0.0.1:5080/");
        var runs = args.Int("runs", 5);
        var cwd = args.Get("cwd", Environment.CurrentDirectory);
        if (run.Length == 0)
        {
            await Console.Error.WriteLineAsync("--run \"command args\" is required");
            return 2;
        }

        var parts = run.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var info = new System.Diagnostics.ProcessStartInfo(parts[0]) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var part in parts.Skip(1))
            {
                info.ArgumentList.Add(part);
            }

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                while (true)
                {
                    if (process.HasExited)
                    {
                        Console.WriteLine($"run {i + 1}: the app exited with code {process.ExitCode} before answering");
                        return 1;
                    }

                    if (clock.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        Console.WriteLine($"run {i + 1}: no 200 from {url} within 60 s");
                        return 1;
                    }

                    try
                    {
                        using var response = await http.GetAsync(url);
                        if (response.IsSuccessStatusCode)
                        {
                            break;
                        }
                    }
                    catch (HttpRequestException)
                    {
                    }
                    catch (TaskCanceledException)
                    {
                    }

                    await Task.Delay(10);
                }

                times.Add(clock.Elapsed.TotalMilliseconds);
                Console.WriteLine($"run {i + 1}: first 200 after {clock.Elapsed.TotalMilliseconds:F0} ms");
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        Console.WriteLine($"cold start to first request: {Stats.Describe(times)}");
        return 0;
    }
}

/// <summary>
/// Evaluations per second of <see cref="IConclaveFeatureFlags.GetBooleanAsync"/> on one thread (so per core), with the
/// evaluation counting the provider reports: a boolean flag with a 50-user rule and a 20% rollout, over a release a
/// real member pushed, 10,000 targeting keys in turn.
/// </summary>
internal static class FlagEvaluations
{
    public static async Task<int> RunAsync(Dictionary<string, string> args)
    {
        var endpoint = args.Get("endpoint", "http://127.0.0.1:2379");
        var httpUrl = args.Get("http", "http://127.0.0.1:2381");
        var rounds = args.Int("rounds", 5);
        var evaluations = args.Int("evaluations", 2_000_000);
        var app = "bench-" + Guid.NewGuid().ToString("N")[..8];
        using var http = new HttpClient { BaseAddress = new Uri(httpUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "bench");
        async Task SendAsync(HttpMethod method, string path, object body)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) });
            response.EnsureSuccessStatusCode();
        }

        var ns = $"/api/v1/apps/{app}/envs/PRO/namespaces/features";
        await SendAsync(HttpMethod.Post, "/api/v1/apps", new { id = app });
        await SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs", new { name = "PRO" });
        await SendAsync(HttpMethod.Post, $"/api/v1/apps/{app}/envs/PRO/namespaces", new { name = "features", format = "flags" });
        var users = string.Join(",", Enumerable.Range(0, 50).Select(i => $"\"vip-{i}\""));
        await SendAsync(HttpMethod.Put, ns + "/content", new
        {
            content = "{\"flags\": {\"Checkout.NewFlow\": {\"type\": \"boolean\", \"defaultVariant\": \"off\", \"rules\": [" +
                "{\"users\": [" + users + "], \"variant\": \"on\"}, {\"rollout\": [{\"variant\": \"on\", \"percentage\": 20}]}]}}}",
        });
        await SendAsync(HttpMethod.Post, ns + "/releases", new { title = "bench" });

        var root = new ConfigurationBuilder().AddConclave(o =>
        {
            o.Endpoints = [endpoint];
            o.App = app;
            o.Environment = "PRO";
            o.Namespaces = ["features"];
            o.InstanceId = "pod-1";
            o.Labels = new Dictionary<string, string> { ["zone"] = "eu1" };
        }).Build();
        await using var services = new ServiceCollection().AddSingleton<IConfiguration>(root).AddConclaveFeatureFlags().BuildServiceProvider();
        var flags = services.GetRequiredService<IConclaveFeatureFlags>();
        var contexts = Enumerable.Range(0, 10_000).Select(i => new Conclave.Flags.FlagContext { TargetingKey = "user-" + i }).ToArray();

        async Task<(double PerSecond, int On)> RunRoundAsync(int n)
        {
            var on = 0;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                if ((await flags.GetBooleanAsync("Checkout.NewFlow", false, contexts[i % contexts.Length])).Value)
                {
                    on++;
                }
            }

            return (n / clock.Elapsed.TotalSeconds, on);
        }

        await RunRoundAsync(evaluations / 10); // warm-up (tiered compilation)
        var figures = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            var (perSecond, on) = await RunRoundAsync(evaluations);
            figures.Add(perSecond);
            Console.WriteLine($"round {round}: {perSecond:N0} evaluations/s on one thread ({on * 100.0 / evaluations:0.00}% on)");
        }

        figures.Sort();
        Console.WriteLine($"median {figures[figures.Count / 2]:N0} evaluations/s");
        foreach (var provider in root.GetConclaveProviders())
        {
            await provider.DisposeAsync();
        }

        return 0;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Conclave.Bench;

/// <summary>
/// <c>config --apps N</c> (issue 23 item 5): a center with many apps, built through the JSON API as users build it.
/// Each app gets <see cref="Envs"/> environments of <see cref="Namespaces"/> namespaces, each with one item and a
/// release, so the release and namespace records of every app are in the keyspace a subscription's watch covers.
/// Then the reads the console and tools make at that size: the apps list's first and a late page, a prefix lookup,
/// and one app's namespaces and overview.
/// </summary>
internal static class ManyApps
{
    private static readonly string[] Envs = ["DEV", "FAT", "PRO"];
    private static readonly string[] Namespaces = ["application", "db", "redis", "features"];
    private const int ReadSamples = 200;

    /// <summary>Creates <paramref name="count"/> apps named <c>{prefix}-00000</c>...; returns their ids and a line of figures.</summary>
    public static async Task<(string[] Apps, string Text)> CreateAsync(
        ConfigAdmin admin, string prefix, int count, int concurrency, int? serverPid, TextWriter progress, CancellationToken cancellationToken)
    {
        var apps = Enumerable.Range(0, count).Select(i => $"{prefix}-{i:D5}").ToArray();
        var next = -1;
        var done = 0;
        var calls = 0L;
        var before = ProcessUsage.Sample(serverPid);
        var clock = Stopwatch.StartNew();
        using var reporting = new Timer(_ => progress.WriteLine($"  apps: {Volatile.Read(ref done)} of {count} created ({clock.Elapsed.TotalSeconds:0} s)"), null, 10_000, 10_000);
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrency)).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                Interlocked.Add(ref calls, await CreateOneAsync(admin, apps[i], cancellationToken));
                Interlocked.Increment(ref done);
            }
        }, cancellationToken)));
        var elapsed = clock.Elapsed;
        var after = ProcessUsage.Sample(serverPid);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"  many apps: {count} apps x {Envs.Length} environments x {Namespaces.Length} namespaces ({count * Envs.Length * Namespaces.Length} namespaces, each with an item and a release): {calls} API calls in {elapsed.TotalSeconds:0.0} s = {calls / elapsed.TotalSeconds:0} calls/s over {concurrency} clients\n");
        if (after is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"    server RSS {after.RssKb / 1024} MiB after creating them{(before is null ? "" : $" ({before.RssKb / 1024} MiB before)")}\n");
        }

        return (apps, text.ToString());
    }

    /// <summary>Latency of the reads a console user or a tool makes with that many apps.</summary>
    public static async Task<string> MeasureReadsAsync(ConfigAdmin admin, string[] apps, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var sample = apps[apps.Length / 2];
        var env = Envs[^1];
        var reads = new (string Name, string Path)[]
        {
            ("apps, first page of 100", "/api/v1/apps?limit=100"),
            ("apps, a page of 100 half-way", "/api/v1/apps?limit=100&after=" + Uri.EscapeDataString(apps[apps.Length / 2])),
            ("apps by prefix (20)", "/api/v1/apps?limit=20&prefix=" + Uri.EscapeDataString(sample[..^2])),
            ("one app", ConfigAdmin.Path("apps", sample)),
            ("one app's namespaces", ConfigAdmin.Path("apps", sample, "envs", env, "namespaces")),
            ("one app's overview", ConfigAdmin.Path("apps", sample, "envs", env, "overview")),
        };
        foreach (var (name, path) in reads)
        {
            await admin.GetAsync(path, cancellationToken); // warm
            var ticks = new long[ReadSamples];
            for (var i = 0; i < ticks.Length; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await admin.GetAsync(path, cancellationToken);
                ticks[i] = Stopwatch.GetTimestamp() - start;
            }

            var summary = LatencySummary.From(ticks);
            text.Append(CultureInfo.InvariantCulture, $"    GET {name}: p50 {summary.P50:0.00} ms, p99 {summary.P99:0.00} ms ({ReadSamples} sequential)\n");
        }

        return text.ToString();
    }

    private static async Task<long> CreateOneAsync(ConfigAdmin admin, string app, CancellationToken cancellationToken)
    {
        long calls = 1;
        await admin.PostAsync(ConfigAdmin.Path("apps"), new JsonObject { ["id"] = app }, cancellationToken);
        foreach (var env in Envs)
        {
            await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs"), new JsonObject { ["name"] = env }, cancellationToken);
            calls++;
            foreach (var ns in Namespaces)
            {
                var path = ConfigAdmin.Path("apps", app, "envs", env, "namespaces", ns);
                await admin.PostAsync(ConfigAdmin.Path("apps", app, "envs", env, "namespaces"), new JsonObject { ["name"] = ns, ["format"] = "properties" }, cancellationToken);
                await admin.PutAsync(path + "/items/owner", new JsonObject { ["value"] = app }, cancellationToken);
                await admin.PostAsync(path + "/releases", new JsonObject { ["title"] = "first" }, cancellationToken);
                calls += 3;
            }
        }

        return calls;
    }
}

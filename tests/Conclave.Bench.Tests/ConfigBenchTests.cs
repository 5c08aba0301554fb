using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Conclave.Bench.Tests;

/// <summary><c>conclave-bench config</c> against a real member: the many-apps phase builds what it says and the rounds still deliver.</summary>
public sealed class ConfigBenchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Config_with_other_apps_creates_them_with_their_releases_and_still_delivers_every_round()
    {
        await using var node = await TestNode.StartInProcessAsync(output);
        var (exitCode, stdout, stderr) = await BenchRun.RunAsync(
            "config", "--endpoints", new Uri(node.Endpoint).Authority, "--api", node.HttpUrl, "--instances", "4", "--subscriber-conns", "2",
            "--releases", "2", "--pause", "0", "--fetch-duration", "0s", "--apps", "3", "--setup-concurrency", "2");
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.Equal(0, exitCode);
        Assert.Contains("many apps: 3 apps x 3 environments x 4 namespaces (36 namespaces", stdout, StringComparison.Ordinal);
        Assert.Contains("GET apps, first page of 100: p50", stdout, StringComparison.Ordinal);
        Assert.Contains("GET one app's overview: p50", stdout, StringComparison.Ordinal);
        Assert.Contains("publish -> delivered: 8 of 8 deliveries, lost 0", stdout, StringComparison.Ordinal);

        // What it says it built is there: three more apps, each namespace of each with a published release.
        using var http = new HttpClient { BaseAddress = new Uri(node.HttpUrl) };
        var apps = await http.GetFromJsonAsync<JsonElement>("/api/v1/apps?limit=100&prefix=bench-");
        var others = apps.EnumerateArray().Select(a => a.GetProperty("id").GetString()!).Where(id => id.Contains("-other-", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, others.Length);
        foreach (var env in new[] { "DEV", "FAT", "PRO" })
        {
            var namespaces = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{others[1]}/envs/{env}/namespaces");
            Assert.Equal(4, namespaces.GetArrayLength());
            var release = await http.GetFromJsonAsync<JsonElement>($"/api/v1/apps/{others[1]}/envs/{env}/namespaces/db/releases");
            Assert.Equal(1, release.GetArrayLength());
        }
    }
}

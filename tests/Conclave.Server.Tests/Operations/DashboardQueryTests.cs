using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Conclave.Server.Tests.Operations;

/// <summary>
/// Every PromQL query of deploy/grafana/conclave-dashboard.json, and every series the alerting rules name, returns data
/// from a real member: a real Prometheus (Debian's) scrapes the member under load, loads the rules, and answers each
/// query through its HTTP API. A query on a series the member does not export returns nothing and fails the test.
/// </summary>
public sealed partial class DashboardQueryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_dashboard_query_returns_data_from_a_running_member()
    {
        var queries = await DashboardQueriesAsync();
        Assert.True(queries.Count >= 20, $"expected the dashboard's queries, found {queries.Count}");

        using var dir = TempDirectory.Create();
        await using var node = await NodeProcess.StartAsync(dir.Combine("member"), new NodeProcessOptions { Output = output });
        await LoadAsync(node, 0);

        var config = dir.Combine("prometheus.yml");
        File.Copy(DeployFiles.Rules, dir.Combine("conclave-rules.yml"));
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - conclave-rules.yml
            scrape_configs:
              - job_name: conclave
                static_configs:
                  - targets: ['{new Uri(node.HttpUrl).Authority}']
            """);
        await using var prometheus = await PrometheusProcess.StartAsync(config, dir.Combine("tsdb"), output);

        // Scraped several times, with writes between scrapes so that rates have something to show.
        for (var round = 1; round <= 3; round++)
        {
            await LoadAsync(node, round);
            var scrapes = round * 2;
            await Eventually.WaitAsync(
                async ct => await prometheus.ScalarAsync($"count_over_time(up{{job=\"conclave\"}}[5m])", ct) >= scrapes,
                TimeSpan.FromSeconds(60), $"{scrapes} scrapes of the member");
        }

        Assert.Equal(1, await prometheus.ScalarAsync("up{job=\"conclave\"}"));
        var empty = new List<string>();
        foreach (var query in queries)
        {
            var promql = query.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$instance", ".*", StringComparison.Ordinal);
            var result = await prometheus.QueryAsync(promql);
            output.WriteLine($"{result.GetArrayLength(),3} series  {promql}");
            if (result.GetArrayLength() == 0)
            {
                empty.Add(promql);
            }
        }

        // The rules may only name series that exist (or `up`): each one, queried alone, has data.
        var rules = await File.ReadAllTextAsync(DeployFiles.Rules);
        foreach (var series in SeriesName().Matches(rules).Select(static m => m.Value).Distinct(StringComparer.Ordinal))
        {
            var result = await prometheus.QueryAsync(series);
            output.WriteLine($"{result.GetArrayLength(),3} series  {series} (alerting rules)");
            if (result.GetArrayLength() == 0)
            {
                empty.Add(series);
            }
        }

        Assert.True(empty.Count == 0, "queries without data:\n" + string.Join("\n", empty));
        // Prometheus loaded the rules and evaluates them (none fires on a healthy member).
        var firing = await prometheus.QueryAsync("ALERTS{alertstate=\"firing\"}");
        Assert.Equal(0, firing.GetArrayLength());
    }

    /// <summary>Every <c>expr</c> of every panel's targets, and each template variable's metric.</summary>
    private static async Task<List<string>> DashboardQueriesAsync()
    {
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(DeployFiles.Dashboard));
        var queries = new List<string>();
        Collect(doc.RootElement.GetProperty("panels"), queries);
        foreach (var variable in doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.TryGetProperty("definition", out var definition) && LabelValues().Match(definition.GetString()!) is { Success: true } m)
            {
                queries.Add(m.Groups[1].Value);
            }
        }

        return queries;
    }

    private static void Collect(JsonElement element, List<string> queries)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                {
                    queries.Add(property.Value.GetString()!);
                }
                else
                {
                    Collect(property.Value, queries);
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                Collect(item, queries);
            }
        }
    }

    /// <summary>Puts, reads and one read that fails (a future revision), so request and error series exist.</summary>
    private static async Task LoadAsync(NodeProcess node, int round)
    {
        for (var i = 0; i < 5; i++)
        {
            (await Etcdctl.RunAsync(node.Endpoint, "put", $"dashboard/{round}/{i}", $"v{i}")).EnsureSuccess();
        }

        (await Etcdctl.RunAsync(node.Endpoint, "get", "dashboard/", "--prefix")).EnsureSuccess();
        var future = await Etcdctl.RunAsync(node.Endpoint, "get", "dashboard/", "--rev", "100000000");
        Assert.NotEqual(0, future.ExitCode);
    }

    [GeneratedRegex(@"\b(conclave_[a-z0-9_]+|up)\b")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"^label_values\(([a-z0-9_]+),")]
    private static partial Regex LabelValues();

    /// <summary>A real <c>prometheus</c> on a free loopback port with its own storage; stopped by its PID.</summary>
    private sealed class PrometheusProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly HttpClient http;

        private PrometheusProcess(Process process, string url)
        {
            this.process = process;
            http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(10) };
        }

        public static async Task<PrometheusProcess> StartAsync(string config, string storage, ITestOutputHelper output)
        {
            for (var attempt = 1; ; attempt++)
            {
                var port = FreePorts.Take(1)[0];
                var info = new ProcessStartInfo(DeployFiles.Prometheus) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var arg in new[] { $"--config.file={config}", $"--storage.tsdb.path={storage}", $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn" })
                {
                    info.ArgumentList.Add(arg);
                }

                var process = Process.Start(info) ?? throw new InvalidOperationException("prometheus did not start");
                process.OutputDataReceived += (_, e) => TestOutput.TryWriteLine(output, $"prometheus: {e.Data}");
                process.ErrorDataReceived += (_, e) => TestOutput.TryWriteLine(output, $"prometheus: {e.Data}");
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                var started = new PrometheusProcess(process, $"http://127.0.0.1:{port}");
                try
                {
                    await Eventually.WaitAsync(
                        async ct => process.HasExited || await started.ReadyAsync(ct), TimeSpan.FromSeconds(60), "prometheus answering /-/ready");
                    if (!process.HasExited)
                    {
                        return started;
                    }
                }
                catch
                {
                    await started.DisposeAsync();
                    throw;
                }

                await started.DisposeAsync();
                if (attempt >= 3)
                {
                    throw new InvalidOperationException("prometheus exited at start three times (see the test output)");
                }
            }
        }

        private async Task<bool> ReadyAsync(CancellationToken cancellationToken)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("/-/ready", UriKind.Relative), cancellationToken);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        /// <summary>An instant query's result array (<c>data.result</c>); fails on a query Prometheus refuses.</summary>
        public async Task<JsonElement> QueryAsync(string promql, CancellationToken cancellationToken = default)
        {
            using var response = await http.GetAsync(new Uri("/api/v1/query?query=" + Uri.EscapeDataString(promql), UriKind.Relative), cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"{promql}: {(int)response.StatusCode} {body}");
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("data").GetProperty("result").Clone();
        }

        /// <summary>The single value of a query (NaN when it has none).</summary>
        public async Task<double> ScalarAsync(string promql, CancellationToken cancellationToken = default)
        {
            var result = await QueryAsync(promql, cancellationToken);
            return result.GetArrayLength() == 0 ? double.NaN : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }

        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync();
                }
            }
            finally
            {
                process.Dispose();
            }
        }
    }
}

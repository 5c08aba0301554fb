using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Conclave.Server.Tests.Security;

/// <summary>
/// A namespace's JSON Schema may name a <c>pattern</c> that backtracks; every publish runs it on the document. A
/// <c>conclave serve</c> member limits regular expressions to a second each (a process-wide default it sets before any
/// is built), so such a publish is refused after about a second instead of holding a core: before, 26 letters took
/// 3.7 s and each more letter doubled it (the 40 here would take about 17 hours).
/// </summary>
public sealed class RegexTimeLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_backtracking_schema_pattern_is_cut_off_and_the_publish_refused()
    {
        using var directory = TempDirectory.Create("conclave-regex-");
        await using var node = await NodeProcess.StartAsync(directory.Combine("data"), new NodeProcessOptions { Output = output });
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CONCLAVE_SERVER_BINARY")))
        {
            // Known gap (docs/security.md#limits): in the Native AOT binary the process-wide default is not in effect
            // even when set first thing in Main, so the limit does not hold there yet. The member must say so at every
            // start; the JIT/ReadyToRun build (CONCLAVE_BUILD=r2r) is protected, and runs the check below.
            Assert.Contains("regular expressions in this process run without a time limit", node.ReadLog(), StringComparison.Ordinal);
            return;
        }

        using var http = new HttpClient { BaseAddress = new Uri(node.HttpUrl), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        const string ns = "/api/v1/apps/redos/envs/DEV/namespaces/doc.json";
        await SendAsync(http, HttpMethod.Post, "/api/v1/apps", new { id = "redos" }, HttpStatusCode.Created);
        await SendAsync(http, HttpMethod.Post, "/api/v1/apps/redos/envs", new { name = "DEV" }, HttpStatusCode.Created);
        await SendAsync(
            http,
            HttpMethod.Post,
            "/api/v1/apps/redos/envs/DEV/namespaces",
            new { name = "doc.json", format = "json", schema = """{"type":"object","properties":{"a":{"type":"string","pattern":"^(\\w+\\s?)*$"}}}""" },
            HttpStatusCode.Created);
        await SendAsync(http, HttpMethod.Put, $"{ns}/content", new { content = $$"""{"a":"{{new string('a', 40)}}!"}""" }, HttpStatusCode.OK);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var refused = await SendAsync(http, HttpMethod.Post, $"{ns}/releases", new { title = "r1" }, HttpStatusCode.UnprocessableEntity);
        output.WriteLine($"refused after {started.Elapsed}: {refused}");
        Assert.Contains("took longer than 1 s on this document", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"refused after {started.Elapsed}");

        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, object body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

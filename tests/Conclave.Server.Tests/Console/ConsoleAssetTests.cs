using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Console;

/// <summary>The web console served at the HTTP listener's root, beside the APIs that must keep working.</summary>
public sealed partial class ConsoleAssetTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [GeneratedRegex("/assets/([0-9a-f]{12})/js/main\\.js")]
    private static partial Regex MainScript();

    [Fact]
    public async Task Root_serves_the_page_revalidated_and_assets_immutable_with_content_types()
    {
        using var http = fixture.Node.CreateHttpClient();
        using var page = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.True(page.Headers.CacheControl?.NoCache);
        Assert.NotNull(page.Headers.ETag);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        var version = MainScript().Match(html).Groups[1].Value;
        Assert.NotEmpty(version);
        Assert.DoesNotContain("{{assets}}", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http", html.Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal);

        foreach (var (path, type) in new[] { ("js/main.js", "text/javascript"), ("js/views/delivery.js", "text/javascript"), ("app.css", "text/css") })
        {
            using var asset = await http.GetAsync($"/assets/{version}/{path}");
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType?.MediaType);
            Assert.True(asset.Headers.CacheControl?.Public);
            Assert.Equal(TimeSpan.FromDays(365), asset.Headers.CacheControl?.MaxAge);
            Assert.Equal("nosniff", asset.Headers.GetValues("X-Content-Type-Options").Single());

            // A browser revalidating what it has gets 304 without the body.
            using var again = new HttpRequestMessage(HttpMethod.Get, $"/assets/{version}/{path}");
            again.Headers.IfNoneMatch.Add(asset.Headers.ETag!);
            using var notModified = await http.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/assets/000000000000/js/main.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/assets/{version}/js/nope.js")).StatusCode);
    }

    [Fact]
    public async Task Page_revalidation_answers_not_modified()
    {
        using var http = fixture.Node.CreateHttpClient();
        using var page = await http.GetAsync("/");
        using var again = new HttpRequestMessage(HttpMethod.Get, "/");
        again.Headers.IfNoneMatch.Add(page.Headers.ETag!);
        using var response = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
    }

    [Fact]
    public async Task Apis_keep_working_beside_the_console()
    {
        using var http = fixture.Node.CreateHttpClient();
        using var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        using var metrics = await http.GetAsync("/metrics");
        Assert.Contains("conclave_mvcc_revision", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var apps = await http.GetAsync("/api/v1/apps");
        Assert.Equal(HttpStatusCode.OK, apps.StatusCode);
        using var range = await http.PostAsync("/v3/kv/range", new StringContent("{\"key\":\"AA==\"}", new MediaTypeHeaderValue("application/json")));
        Assert.Equal(HttpStatusCode.OK, range.StatusCode);
        using var missing = await http.GetAsync("/api/v1/apps/does-not-exist");
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Conclave.Server.Tests.Fixtures;

namespace Conclave.Server.Tests.Http;

/// <summary>
/// The HTTP listener serves browsers (the console) and so must refuse what a foreign page in a browser on the
/// operator's machine can send: requests for another host name (DNS rebinding), and state-changing requests that are
/// not JSON or that come from another origin (CSRF through "simple" requests, which need no CORS preflight).
/// </summary>
public sealed class CrossSiteRequestTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const string Json = "application/json";

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private string Origin => fixture.Node.HttpUrl.TrimEnd('/');

    private static HttpRequestMessage Put(string key, string value, string contentType = Json) => new(HttpMethod.Post, "/v3/kv/put")
    {
        Content = new StringContent(JsonSerializer.Serialize(new { key = B64(key), value = B64(value) }), MediaTypeHeaderValue.Parse(contentType)),
    };

    private async Task<bool> ExistsAsync(HttpClient http, string key)
    {
        using var response = await http.PostAsJsonAsync("/v3/kv/range", new { key = B64(key) });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("kvs", out _);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Theory]
    [InlineData("GET", "/health")]
    [InlineData("GET", "/metrics")]
    [InlineData("GET", "/api/v1/apps")]
    [InlineData("GET", "/")]
    public async Task A_request_for_a_foreign_host_name_is_refused(string method, string path)
    {
        // What a DNS-rebinding page sends: its own name, now resolving to this member.
        using var http = fixture.Node.CreateHttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Host = "attacker.example:" + new Uri(fixture.Node.HttpUrl).Port;
        using var response = await http.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.MisdirectedRequest, "HostNotAllowed");
    }

    [Fact]
    public async Task A_write_for_a_foreign_host_name_is_refused_and_writes_nothing()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("rebind");
        using var request = Put(key, "x");
        request.Headers.Host = "attacker.example";
        using var response = await http.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.MisdirectedRequest, "HostNotAllowed");
        Assert.False(await ExistsAsync(http, key));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST.")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("10.1.2.3")]
    public async Task Loopback_names_and_ip_addresses_are_served(string host)
    {
        using var http = fixture.Node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Host = host + ":" + new Uri(fixture.Node.HttpUrl).Port;
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task This_machines_host_name_is_served()
    {
        using var http = fixture.Node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Host = Dns.GetHostName();
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data")]
    public async Task A_write_that_is_not_json_is_refused_and_writes_nothing(string contentType)
    {
        // A cross-site form or fetch() can send these three without asking first.
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("plain");
        using var request = Put(key, "x", contentType);
        using var response = await http.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
        Assert.False(await ExistsAsync(http, key));
    }

    [Fact]
    public async Task A_configuration_api_write_that_is_not_json_is_refused()
    {
        using var http = fixture.Node.CreateHttpClient();
        var app = "plain" + Guid.NewGuid().ToString("N")[..8];
        using var response = await http.PostAsync("/api/v1/apps", new StringContent($$"""{"id":"{{app}}"}""", Encoding.UTF8, "text/plain"));
        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
        using var get = await http.GetAsync($"/api/v1/apps/{app}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Theory]
    [InlineData("http://attacker.example")]
    [InlineData("null")]
    [InlineData("http://127.0.0.1:1")] // another port of this machine: same site, another origin
    public async Task A_write_from_a_foreign_origin_is_refused_and_writes_nothing(string origin)
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("origin");
        using var request = Put(key, "x");
        request.Headers.Add("Origin", origin);
        using var response = await http.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "CrossOriginRequest");
        Assert.False(await ExistsAsync(http, key));
    }

    [Fact]
    public async Task A_cross_site_write_is_refused_even_without_an_origin_or_a_body()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("fetchsite");
        using (var request = Put(key, "x"))
        {
            request.Headers.Add("Sec-Fetch-Site", "cross-site");
            using var response = await http.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.Forbidden, "CrossOriginRequest");
        }

        // A bodiless POST needs no content type, so only its origin can give it away.
        using (var bodiless = new HttpRequestMessage(HttpMethod.Post, "/v3/kv/compaction"))
        {
            bodiless.Headers.Add("Origin", "http://attacker.example");
            using var response = await http.SendAsync(bodiless);
            await AssertProblemAsync(response, HttpStatusCode.Forbidden, "CrossOriginRequest");
        }

        Assert.False(await ExistsAsync(http, key));
    }

    [Fact]
    public async Task A_same_origin_json_write_works_as_the_console_sends_it()
    {
        using var http = fixture.Node.CreateHttpClient();
        var key = Keys.Unique("same");
        using var request = Put(key, "x", "application/json; charset=utf-8");
        request.Headers.Add("Origin", Origin);
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await ExistsAsync(http, key));

        // A bodiless DELETE (the console and the CLI send no content type with one) passes the checks.
        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/apps/no-such-app-" + Guid.NewGuid().ToString("N")[..8]);
        delete.Headers.Add("Origin", Origin);
        delete.Headers.Add("X-Conclave-Author", "console");
        using var deleted = await http.SendAsync(delete);
        Assert.True(deleted.StatusCode == HttpStatusCode.NotFound, $"{(int)deleted.StatusCode}: {await deleted.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Reads_and_navigation_from_other_sites_are_served()
    {
        // A link to the console from another site is a cross-site navigation; reads change nothing.
        using var http = fixture.Node.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("Sec-Fetch-Site", "cross-site");
        request.Headers.Add("Origin", "http://attacker.example");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

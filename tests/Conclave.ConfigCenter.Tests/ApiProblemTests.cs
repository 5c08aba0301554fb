using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Conclave.ConfigCenter.Tests;

/// <summary>
/// Every refusal on <c>/api/v1</c> is an RFC 7807 problem detail that says what and why, also the ones ASP.NET Core
/// answers before an endpoint runs (a body that does not bind, a body over the member's limit, a route that does not
/// match). Before: malformed JSON and an unknown format were an empty 400, a 10 MB body a bare 413, an empty key
/// <c>404: </c> and a junk import file <c>400: </c>.
/// </summary>
public sealed class ApiProblemTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    public static TheoryData<string, string, string, string, int, string> Cases() => new()
    {
        // name, method, path (APP is replaced), body, status, a part of the detail
        { "malformed JSON body", "POST", "/api/v1/apps/APP/envs/DEV/namespaces", "{\"name\": \"x\",", 400, "JSON" },
        { "unknown format", "POST", "/api/v1/apps/APP/envs/DEV/namespaces", "{\"name\": \"x\", \"format\": \"toml\"}", 400, "format must be one of properties, json, yaml, text" },
        { "body of the wrong shape", "POST", "/api/v1/apps/APP/envs", "[1, 2, 3]", 400, "JSON" },
        { "empty item key", "PUT", "/api/v1/apps/APP/envs/DEV/namespaces/p/items/", "{\"value\": \"1\"}", 400, "item key" },
        { "empty item key on delete", "DELETE", "/api/v1/apps/APP/envs/DEV/namespaces/p/items/", "", 400, "item key" },
        { "junk import file", "POST", "/api/v1/apps/APP/import", "PK\u0003\u0004 this is a zip, not an export", 400, "JSON" },
        { "import of another kind of file", "POST", "/api/v1/apps/APP/import", "{\"app\": \"x\", \"kind\": \"something.else\"}", 400, "conclave.config.export" },
        { "no such route", "GET", "/api/v1/no/such/thing", "", 404, "/api/v1/no/such/thing" },
        { "wrong method", "PATCH", "/api/v1/apps/APP", "{}", 405, "PATCH" },
        { "negative expected revision", "PUT", "/api/v1/apps/APP/envs/DEV/namespaces/p/items/k", "{\"value\": \"1\", \"expectedRevision\": -1}", 400, "expectedRevision" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_refusal_is_a_problem_detail_that_says_what_and_why(string name, string method, string path, string body, int status, string detailPart)
    {
        var app = await NewAppWithPropertiesAsync();
        using var http = Http();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("APP", app, StringComparison.Ordinal));
        if (body.Length > 0)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);
        await AssertProblemAsync(response, status, detailPart, name);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_over_the_limit_is_a_problem_detail_naming_the_limit(bool withLength)
    {
        var app = await NewAppWithPropertiesAsync();
        using var http = Http();
        var content = new string('x', 10 * 1024 * 1024);
        using HttpContent body = withLength
            ? new StringContent(JsonSerializer.Serialize(new { content }), Encoding.UTF8, "application/json") // Content-Length, as the CLI sends
            : JsonContent.Create(new { content }); // chunked
        using var response = await http.PutAsync($"/api/v1/apps/{app}/envs/DEV/namespaces/p/content", body);
        var problem = await AssertProblemAsync(response, 413, "bytes", "10 MB body");
        Assert.Contains(fixture.Node.Server.Node.Options.MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private async Task<string> NewAppWithPropertiesAsync()
    {
        var app = await fixture.NewAppAsync();
        await fixture.Center.CreateNamespaceAsync(app, "DEV", "p", Model.NamespaceFormat.Properties, null, NodeFixture.Alice);
        return app;
    }

    private HttpClient Http()
    {
        var http = fixture.Node.CreateHttpClient();
        http.DefaultRequestHeaders.Add("X-Conclave-Author", "mallory");
        return http;
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, int status, string detailPart, string what)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{what}: expected {status}, got {(int)response.StatusCode} '{text}'");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{what}: content type '{response.Content.Headers.ContentType}', body '{text}'");
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), what);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("code").GetString()), what);
        var detail = problem.GetProperty("detail").GetString() ?? "";
        Assert.True(detail.Contains(detailPart, StringComparison.OrdinalIgnoreCase), $"{what}: detail '{detail}' does not name '{detailPart}'");
        return problem;
    }
}
